#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <list>
#include <stdexcept>
#include <string>
#include <vector>

namespace spindle::faults {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

void NonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// One proxied connection: the worker's side, PostgreSQL's side, and the bytes read from one
// and not yet written to the other.
struct Conn {
  int fd[2];               // 0: client, 1: upstream
  std::string pending[2];  // pending[i]: read from fd[i], to be written to fd[1 - i]
  bool broken = false;
  ~Conn() {
    close(fd[0]);
    close(fd[1]);
  }
};

}  // namespace

TcpProxy::TcpProxy(int upstream_port) : upstream_port_(upstream_port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = Loopback(0);
  socklen_t len = sizeof a;
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(listen_fd_, 64) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
      pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::runtime_error("proxy: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(a.sin_port);
  NonBlocking(listen_fd_);
  thread_ = std::thread([this] { Loop(); });
}

TcpProxy::~TcpProxy() {
  done_ = true;
  char c = 0;
  (void)!write(wake_[1], &c, 1);
  thread_.join();
  close(listen_fd_);
  close(wake_[0]);
  close(wake_[1]);
}

void TcpProxy::SetMode(Mode mode) {
  {
    std::lock_guard lock(mu_);
    mode_ = mode;
  }
  char c = 0;
  (void)!write(wake_[1], &c, 1);
}

void TcpProxy::Reset() {
  {
    std::lock_guard lock(mu_);
    reset_ = true;
  }
  char c = 0;
  (void)!write(wake_[1], &c, 1);
}

void TcpProxy::Loop() {
  std::list<Conn> conns;
  while (!done_) {
    Mode mode;
    {
      std::lock_guard lock(mu_);
      mode = mode_;
      if (reset_ || mode == Mode::kRefuse) conns.clear();
      reset_ = false;
    }
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    if (mode == Mode::kForward) {
      for (auto& c : conns) {
        for (int i = 0; i < 2; ++i) {
          // Read from a side only when what it sent before is written on; write when pending.
          short events = c.pending[i].empty() ? POLLIN : 0;
          if (!c.pending[1 - i].empty()) events |= POLLOUT;
          fds.push_back({c.fd[i], events, 0});
        }
      }
    }
    if (poll(fds.data(), fds.size(), 200) < 0 && errno != EINTR) return;
    char drain[64];
    while (read(wake_[0], drain, sizeof drain) > 0) {
    }
    size_t k = 2;  // fds[k]: the polled connections, in order
    for (auto& c : conns) {
      if (mode != Mode::kForward) break;  // none was polled
      for (int i = 0; i < 2; ++i, ++k) {
        short rev = fds[k].revents;
        if (rev & POLLIN) {
          char buf[65536];
          ssize_t n = read(c.fd[i], buf, sizeof buf);
          if (n > 0) {
            c.pending[i].append(buf, static_cast<size_t>(n));
          } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            c.broken = true;
          }
        } else if (rev & (POLLERR | POLLHUP | POLLNVAL)) {
          c.broken = true;
        }
        if ((rev & POLLOUT) && !c.pending[1 - i].empty()) {
          ssize_t n = send(c.fd[i], c.pending[1 - i].data(), c.pending[1 - i].size(), MSG_NOSIGNAL);
          if (n > 0) {
            c.pending[1 - i].erase(0, static_cast<size_t>(n));
          } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            c.broken = true;
          }
        }
      }
    }
    // A side that closed ends the connection (PostgreSQL's protocol has no half-close).
    conns.remove_if([](const Conn& c) { return c.broken; });
    // New connections last: the loop above walks the ones that were polled.
    if (fds[1].revents & POLLIN) {
      while (true) {
        int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) break;
        if (mode == Mode::kRefuse) {
          close(client);
          continue;
        }
        int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a = Loopback(upstream_port_);
        // Blocking connect: on loopback it is answered at once (refused while PostgreSQL is
        // down, which closes the client too).
        if (up < 0 || connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
          if (up >= 0) close(up);
          close(client);
          continue;
        }
        NonBlocking(client);
        NonBlocking(up);
        conns.emplace_back();
        conns.back().fd[0] = client;
        conns.back().fd[1] = up;
      }
    }
  }
}

}  // namespace spindle::faults

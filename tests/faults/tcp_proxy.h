// A loopback TCP proxy that cuts one worker off from PostgreSQL: the worker's database URL
// names the proxy's port, and the test decides what passes.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>

namespace spindle::faults {

class TcpProxy {
 public:
  enum class Mode {
    kForward,    // bytes pass both ways
    kRefuse,     // every connection is closed; new ones are accepted and closed at once
    kBlackhole,  // nothing passes and nothing is closed: connections (old and new) hang
  };

  // Listens on 127.0.0.1 (a free port) and forwards to 127.0.0.1:upstream_port.
  explicit TcpProxy(int upstream_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  // Takes effect within one poll round. Leaving kBlackhole for kForward resumes the held
  // connections where they stopped (a healed partition); call Reset() first to drop them.
  void SetMode(Mode mode);
  // Closes every connection, as a network that reset them would.
  void Reset();

 private:
  void Loop();

  int upstream_port_;
  int port_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::mutex mu_;
  Mode mode_ = Mode::kForward;
  bool reset_ = false;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace spindle::faults

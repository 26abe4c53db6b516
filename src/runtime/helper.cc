#include "runtime/helper.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <system_error>
#include <thread>
#include <utility>

namespace spindle::runtime {
namespace {

using Clock = std::chrono::steady_clock;
// How often a waiting job looks at its cancel token and deadline (as RunCommand does).
constexpr std::chrono::milliseconds kPollInterval{50};

}  // namespace

// One helper process: RunCommand on a thread of its own, for the helper's whole life.
struct HelperPool::Helper {
  int in = -1;        // our end of its stdin (a socket: a write to a gone reader is EPIPE, no
                      // SIGPIPE), non-blocking
  CancelToken kill;   // fired: RunCommand kills it (SIGTERM, kill_grace, SIGKILL)
  std::thread thread;
  std::mutex mu;      // guards the rest
  std::condition_variable cv;
  bool exited = false;
  CommandResult result;
  const std::function<LineUse(std::string_view)>* on_line = nullptr;  // the job it runs
  bool job_ended = false;
  std::string job_stderr;  // the tail of what it wrote on stderr since its last job ended
  int jobs = 0;

  // Only once it has exited (or never started).
  ~Helper() {
    if (in >= 0) ::close(in);
    if (thread.joinable()) thread.join();
  }
  void CloseStdin() {
    if (in >= 0) ::close(std::exchange(in, -1));
  }
  // Waits for the exit, up to `until` (the steady clock's epoch: no limit).
  bool WaitExited(Clock::time_point until) {
    std::unique_lock lock(mu);
    if (until == Clock::time_point{}) {
      cv.wait(lock, [&] { return exited; });
      return true;
    }
    return cv.wait_until(lock, until, [&] { return exited; });
  }
  void Kill() {
    kill.Cancel();
    WaitExited({});
  }
};

HelperPool::HelperPool(CommandRun base, int max_jobs)
    : base_(std::move(base)), max_jobs_(max_jobs) {}

HelperPool::~HelperPool() {
  std::vector<std::unique_ptr<Helper>> idle;
  {
    std::lock_guard lock(mu_);
    idle.swap(idle_);
  }
  for (auto& h : idle) Retire(std::move(h));
  std::unique_lock lock(mu_);
  retired_.wait(lock, [&] { return retiring_ == 0; });
}

size_t HelperPool::alive() const {
  std::lock_guard lock(mu_);
  return alive_;
}

size_t HelperPool::started() const {
  std::lock_guard lock(mu_);
  return started_;
}

std::unique_ptr<HelperPool::Helper> HelperPool::Take() {
  while (true) {
    std::unique_ptr<Helper> h;
    {
      std::lock_guard lock(mu_);
      if (idle_.empty()) break;
      h = std::move(idle_.back());
      idle_.pop_back();
    }
    {
      std::lock_guard lock(h->mu);
      if (!h->exited) return h;  // else it died while idle (a crash, the fence): a new one
    }
    h.reset();
    std::lock_guard lock(mu_);
    --alive_;
  }
  auto h = std::make_unique<Helper>();
  {
    std::lock_guard lock(mu_);
    ++alive_;
    ++started_;
  }
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    h->exited = true;
    h->result.error = "cannot execute '" + base_.argv.at(0) +
                      "': cannot create its stdin: " + std::generic_category().message(errno);
    return h;
  }
  h->in = fds[0];
  ::shutdown(fds[1], SHUT_WR);  // the helper only reads its stdin
  fcntl(h->in, F_SETFL, fcntl(h->in, F_GETFL) | O_NONBLOCK);
  CommandRun run = base_;
  run.stdin_fd = fds[1];
  run.cancel = &h->kill;
  Helper* raw = h.get();
  run.on_stdout_line = [raw](std::string_view text) {
    std::lock_guard lock(raw->mu);
    if (raw->on_line == nullptr || raw->job_ended) return false;  // between jobs: output
    const LineUse use = (*raw->on_line)(text);
    if (use == LineUse::kEndsJob) {
      raw->job_ended = true;
      raw->job_stderr.clear();
      raw->cv.notify_all();
    }
    return use != LineUse::kOutput;
  };
  run.on_stderr = [raw, limit = base_.stderr_limit](std::string_view piece) {
    std::lock_guard lock(raw->mu);
    raw->job_stderr.append(piece);
    KeepTail(raw->job_stderr, limit);
  };
  h->thread = std::thread([raw, run = std::move(run)] {
    CommandResult result = RunCommand(run);
    std::lock_guard lock(raw->mu);
    raw->result = std::move(result);
    raw->exited = true;
    raw->cv.notify_all();
  });
  return h;
}

// Closes its stdin and lets it exit, on a thread of its own, so that the job that used it up is
// not held back: kill_grace to exit, then it is killed.
void HelperPool::Retire(std::unique_ptr<Helper> h) {
  {
    std::lock_guard lock(mu_);
    ++retiring_;
  }
  std::thread([this, h = std::move(h)]() mutable {
    h->CloseStdin();
    if (!h->WaitExited(Clock::now() + base_.kill_grace)) h->Kill();
    h.reset();
    std::lock_guard lock(mu_);
    --alive_;
    --retiring_;
    retired_.notify_all();
  }).detach();
}

HelperPool::Outcome HelperPool::Run(const std::string& input, Clock::time_point deadline,
                                    const CancelToken* cancel,
                                    const std::function<LineUse(std::string_view)>& on_line) {
  auto h = Take();
  auto stop = [&] {
    if (cancel != nullptr && cancel->cancelled()) return true;
    return deadline != Clock::time_point{} && Clock::now() >= deadline;
  };
  {
    std::lock_guard lock(h->mu);
    h->on_line = &on_line;
    h->job_ended = false;
  }
  // The job's line. A helper that stops reading is caught by the deadline; one that is gone, by
  // its exit.
  for (size_t sent = 0; sent < input.size() && h->in >= 0;) {
    ssize_t n = ::send(h->in, input.data() + sent, input.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
    if (stop() || h->WaitExited(Clock::now())) break;
    pollfd p{h->in, POLLOUT, 0};
    poll(&p, 1, static_cast<int>(kPollInterval.count()));
  }

  Outcome out;
  std::unique_lock lock(h->mu);
  while (!h->job_ended && !h->exited && !stop()) h->cv.wait_for(lock, kPollInterval);
  h->on_line = nullptr;
  if (h->job_ended) {
    out.ended = true;
    ++h->jobs;
    const bool used_up = max_jobs_ > 0 && h->jobs >= max_jobs_;
    lock.unlock();
    if (used_up) {
      Retire(std::move(h));
    } else {
      std::lock_guard pool(mu_);
      idle_.push_back(std::move(h));
    }
    return out;
  }
  const bool timed_out = !h->exited && deadline != Clock::time_point{} && Clock::now() >= deadline;
  lock.unlock();
  if (!h->WaitExited(Clock::now())) h->Kill();
  out.process = h->result;
  out.process.stderr_tail = h->job_stderr;  // not what earlier jobs wrote
  if (timed_out) {
    out.process.timed_out = true;
    out.process.cancelled = false;
  }
  h.reset();
  std::lock_guard pool(mu_);
  --alive_;
  return out;
}

std::string HelperPool::Outcome::Describe() const {
  if (!process.started || process.timed_out || process.cancelled) return process.Describe();
  std::string how = process.Describe();
  if (process.exit_code == 0) {
    // Likely a program that reads its stdin to the end, as a one-shot command does.
    how.insert(std::string_view("exited with status 0").size(),
               " (a helper ends each job with a {\"status\": N} line and reads the next)");
  }
  return "the helper ended before the job did: " + how;
}

}  // namespace spindle::runtime

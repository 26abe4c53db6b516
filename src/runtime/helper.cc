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

#include "core/log.h"
#include "runtime/command_protocol.h"

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
  const LineHandler* on_line = nullptr;  // the job it runs, from before its line is sent
  const std::function<void(size_t)>* on_overlong = nullptr;
  bool job_ended = false;
  bool out_of_step = false;  // wrote a protocol line while it ran no job
  std::string job_stderr;    // the tail of what it wrote on stderr since its last job ended
  int jobs = 0;

  // Only once it has exited (or never started).
  ~Helper() {
    if (in >= 0) ::close(in);
    if (thread.joinable()) thread.join();
  }
  void CloseStdin() {
    if (in >= 0) ::close(std::exchange(in, -1));
  }
  bool Exited() {
    std::lock_guard lock(mu);
    return exited;
  }
  // Waits for the exit, up to `until`.
  bool WaitExitedUntil(Clock::time_point until) {
    std::unique_lock lock(mu);
    return cv.wait_until(lock, until, [&] { return exited; });
  }
  // Kills it and waits for its end.
  void Kill() {
    kill.Cancel();
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return exited; });
  }
  // The job's line, whole. False if it could not be written: the helper is gone or no longer
  // reads (EPIPE), or `stop` said so first.
  bool Send(const std::string& line, const std::function<bool()>& stop) {
    for (size_t sent = 0; sent < line.size();) {
      ssize_t n = ::send(in, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      if (stop() || Exited()) return false;
      pollfd p{in, POLLOUT, 0};
      poll(&p, 1, static_cast<int>(kPollInterval.count()));
    }
    return true;
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

size_t HelperPool::out_of_step() const { return out_of_step_; }

std::unique_ptr<HelperPool::Helper> HelperPool::Take() {
  while (true) {
    std::unique_ptr<Helper> h;
    {
      std::lock_guard lock(mu_);
      if (idle_.empty()) break;
      h = std::move(idle_.back());
      idle_.pop_back();
    }
    bool exited, out_of_step;
    {
      std::lock_guard lock(h->mu);
      exited = h->exited;
      out_of_step = h->out_of_step;
    }
    if (!exited && !out_of_step) return h;
    // It died while idle (a crash, the fence), or its lines no longer match its jobs: a new one.
    if (exited) {
      core::Log().warn("event=helper_gone command={} how={}", core::LogValue(base_.argv.at(0)),
                       core::LogValue(h->result.Describe()));
    }
    Retire(std::move(h));
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
  // Every line is taken: a helper's other output is not kept (it would pile up for its life).
  run.on_stdout_line = [this, raw, argv0 = base_.argv.at(0)](std::string_view text) {
    std::lock_guard lock(raw->mu);
    if (raw->on_line == nullptr || raw->job_ended) {
      if (!raw->out_of_step && ParseCommandLine(text)) {
        raw->out_of_step = true;  // it is not given another job
        ++out_of_step_;
        core::Log().warn("event=helper_out_of_step command={} line={} (a protocol line while it "
                         "ran no job; the helper is replaced)",
                         core::LogValue(argv0), core::LogValue(text.substr(0, 200)));
      }
      return true;
    }
    if ((*raw->on_line)(text) == LineUse::kEndsJob) {
      raw->job_ended = true;
      raw->job_stderr.clear();
      raw->cv.notify_all();
    }
    return true;
  };
  run.on_overlong_line = [raw](size_t bytes) {
    std::lock_guard lock(raw->mu);
    if (raw->on_overlong != nullptr && !raw->job_ended) (*raw->on_overlong)(bytes);
  };
  run.on_stderr = [raw, limit = base_.stderr_limit](std::string_view piece) {
    std::lock_guard lock(raw->mu);
    raw->job_stderr.append(piece);
    KeepTail(raw->job_stderr, limit);
  };
  try {
    h->thread = std::thread([raw, run = std::move(run)] {
      CommandResult result = RunCommand(run);
      std::lock_guard lock(raw->mu);
      raw->result = std::move(result);
      raw->exited = true;
      raw->cv.notify_all();
    });
  } catch (const std::system_error& e) {  // no thread: the lambda, and with it run, is gone
    ::close(fds[1]);
    h->exited = true;
    h->result.error = "cannot execute '" + base_.argv.at(0) + "': " + e.what();
  }
  return h;
}

// Closes its stdin and lets it exit, on a thread of its own, so that the job that used it up is
// not held back: kill_grace to exit, then it is killed.
void HelperPool::Retire(std::unique_ptr<Helper> h) {
  {
    std::lock_guard lock(mu_);
    ++retiring_;
  }
  auto retire = [this](std::unique_ptr<Helper> h) {
    h->CloseStdin();
    if (!h->WaitExitedUntil(Clock::now() + base_.kill_grace)) h->Kill();
    h.reset();
    std::lock_guard lock(mu_);
    --alive_;
    --retiring_;
    retired_.notify_all();
  };
  Helper* raw = h.release();  // owned by the thread once it runs
  try {
    std::thread([retire, raw] { retire(std::unique_ptr<Helper>(raw)); }).detach();
  } catch (const std::system_error&) {  // no thread: here, then
    retire(std::unique_ptr<Helper>(raw));
  }
}

HelperPool::Outcome HelperPool::Run(const std::string& input, Clock::time_point deadline,
                                    const CancelToken* cancel, const LineHandler& on_line,
                                    const std::function<void(size_t)>& on_overlong) {
  auto deadline_passed = [&] {
    return deadline != Clock::time_point{} && Clock::now() >= deadline;
  };
  std::function<bool()> stop = [&] {
    return (cancel != nullptr && cancel->cancelled()) || deadline_passed();
  };
  Outcome out;
  if (stop()) {  // no helper is spent on it
    out.process.error =
        deadline_passed() ? "timed out before it started" : "cancelled before it started";
    return out;
  }
  std::unique_ptr<Helper> h;
  while (true) {
    h = Take();
    const bool reused = h->jobs > 0;
    {
      std::lock_guard lock(h->mu);
      h->on_line = &on_line;
      h->on_overlong = &on_overlong;
      h->job_ended = false;
    }
    if (h->in < 0 || h->Send(input, stop) || !reused || stop()) break;
    // A helper that was idle is gone or no longer reads: the job never reached it. Another one.
    {
      std::lock_guard lock(h->mu);
      h->on_line = nullptr;
      h->on_overlong = nullptr;
    }
    Retire(std::move(h));
  }

  std::unique_lock lock(h->mu);
  while (!h->job_ended && !h->exited && !stop()) h->cv.wait_for(lock, kPollInterval);
  h->on_line = nullptr;
  h->on_overlong = nullptr;
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
  const bool timed_out = !h->exited && deadline_passed();
  lock.unlock();
  if (!h->Exited()) h->Kill();
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

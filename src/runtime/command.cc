#include "runtime/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;

namespace spindle::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Upper bound on one poll() so that cancel tokens and deadlines are noticed promptly.
constexpr milliseconds kPollInterval{50};
// Size of one read()/write() on the pipes (the default Linux pipe capacity).
constexpr size_t kIoChunk = 64 * 1024;
// After SIGKILLing the group, how long to keep waiting for stdout/stderr to close once the
// leader is gone. Only processes that left the group (setsid) can still hold them then, and
// those must not hang the caller forever.
constexpr milliseconds kAbandonPipesAfterKill{1000};

// Owns one file descriptor, so that every return path closes it.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // No retry on EINTR: on Linux the fd is released even then, and retrying could close an fd
  // another thread just opened.
  void Close() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

 private:
  int fd_ = -1;
};

std::string ErrnoText(int err) { return std::generic_category().message(err); }

// Moves `fd` to a number >= 3 if it is one of 0..2. That happens when the host process runs with
// stdin/stdout/stderr closed; the child's dup2 sequence onto 0..2 would otherwise overwrite a
// pipe end before it is duplicated. Returns 0 or an errno.
int MoveAboveStdio(Fd* fd) {
  if (fd->get() > 2) return 0;
  int moved = fcntl(fd->get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return errno;
  *fd = Fd(moved);
  return 0;
}

// Creates a close-on-exec pipe (so children spawned concurrently by other threads do not inherit
// it, which would also keep us from ever seeing EOF). Returns 0 or an errno.
int MakePipe(Fd* read_end, Fd* write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return errno;
  *read_end = Fd(fds[0]);
  *write_end = Fd(fds[1]);
  if (int err = MoveAboveStdio(read_end)) return err;
  return MoveAboveStdio(write_end);
}

// Only our ends become non-blocking: pipe ends are separate open file descriptions, so the
// child's ends stay blocking, as programs expect.
int SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return errno;
  return 0;
}

// Frees a posix_spawn attribute object and file-actions object however Spawn returns.
class SpawnConfig {
 public:
  SpawnConfig() {
    actions_ok_ = posix_spawn_file_actions_init(&actions_) == 0;
    attr_ok_ = posix_spawnattr_init(&attr_) == 0;
  }
  SpawnConfig(const SpawnConfig&) = delete;
  SpawnConfig& operator=(const SpawnConfig&) = delete;
  ~SpawnConfig() {
    if (actions_ok_) posix_spawn_file_actions_destroy(&actions_);
    if (attr_ok_) posix_spawnattr_destroy(&attr_);
  }

  // Returns 0 or an errno.
  int Configure(int in_fd, int out_fd, int err_fd) {
    if (!actions_ok_ || !attr_ok_) return ENOMEM;
    // The pipe ends are all >= 3 (see MoveAboveStdio), so these dup2s cannot clobber each other.
    // dup2 clears close-on-exec on the copies; the originals close at exec.
    if (int err = posix_spawn_file_actions_adddup2(&actions_, in_fd, STDIN_FILENO)) return err;
    if (int err = posix_spawn_file_actions_adddup2(&actions_, out_fd, STDOUT_FILENO)) return err;
    if (int err = posix_spawn_file_actions_adddup2(&actions_, err_fd, STDERR_FILENO)) return err;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    // Fds the host opened without O_CLOEXEC (libraries are careless) must not reach the child:
    // they waste fds there and may hold other pipes or sockets open.
    if (int err = posix_spawn_file_actions_addclosefrom_np(&actions_, 3)) return err;
#endif
    // Own process group (pgroup 0: the child leads it), so that a timeout can signal the child
    // and everything it started with one kill(-pgid, ...).
    if (int err = posix_spawnattr_setpgroup(&attr_, 0)) return err;
    // The calling thread may block signals (worker threads often do); the child must not inherit
    // that, or it could not be stopped with SIGTERM.
    sigset_t empty;
    sigemptyset(&empty);
    if (int err = posix_spawnattr_setsigmask(&attr_, &empty)) return err;
    // Ignored signals survive exec; the host may ignore SIGPIPE (common in servers) and the child
    // must still die of it like a normal program, and must be stoppable with TERM/INT. SIGCHLD
    // ignored would make wait() fail inside shell scripts.
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, sig);
    if (int err = posix_spawnattr_setsigdefault(&attr_, &defaults)) return err;
    return posix_spawnattr_setflags(
        &attr_, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }

  // Returns 0 or an errno. glibc's posix_spawnp reports exec failures (ENOENT, EACCES, ...) as
  // its return value: the child shares our memory until it execs, so no child is left over.
  int Spawn(const std::vector<std::string>& argv, pid_t* pid) {
    std::vector<char*> cargv;
    cargv.reserve(argv.size() + 1);
    for (const std::string& arg : argv) cargv.push_back(const_cast<char*>(arg.c_str()));
    cargv.push_back(nullptr);
    return posix_spawnp(pid, cargv[0], &actions_, &attr_, cargv.data(), environ);
  }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
  bool actions_ok_ = false;
  bool attr_ok_ = false;
};

// write() that cannot kill the process with SIGPIPE, without touching the process-wide SIGPIPE
// disposition (a library must not). SIGPIPE from a pipe write is directed at the writing thread,
// so: block it in this thread, write, and if the write failed with EPIPE consume the SIGPIPE it
// raised with sigtimedwait. A SIGPIPE that was already pending before is left alone.
ssize_t WriteWithoutSigpipe(int fd, const char* data, size_t size) {
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t old_mask;
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;

  ssize_t written = ::write(fd, data, size);
  const int write_errno = errno;

  if (written < 0 && write_errno == EPIPE && !was_pending) {
    const timespec zero{};
    while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  errno = write_errno;
  return written;
}

// Whole milliseconds elapsed since `since`, compared in milliseconds so that a huge kill_grace
// cannot overflow a conversion to nanoseconds.
bool ElapsedAtLeast(Clock::time_point now, Clock::time_point since, milliseconds d) {
  return std::chrono::duration_cast<milliseconds>(now - since) >= d;
}

// Names of the signals a command plausibly dies of; others are reported by number only.
const char* SignalName(int sig) {
  static constexpr std::pair<int, const char*> kNames[] = {
      {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
      {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
      {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
      {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGXCPU, "SIGXCPU"},
      {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"},
  };
  for (const auto& [number, name] : kNames) {
    if (number == sig) return name;
  }
  return nullptr;
}

// The child process while it runs: its pipes, and the state of the kill sequence.
class Child {
 public:
  Child(const CommandRun& run, pid_t pid, Fd in, Fd out, Fd err, CommandResult* result)
      : run_(run),
        pid_(pid),
        in_(std::move(in)),
        out_(std::move(out)),
        err_(std::move(err)),
        result_(result),
        grace_(std::max(run.kill_grace, milliseconds{0})),
        buffer_(kIoChunk, '\0') {}

  void Run() {
    if (run_.stdin_data.empty() || SetNonBlocking(in_.get()) != 0) in_.Close();
    // Without non-blocking reads a spurious wakeup could block us past the deadline.
    if (SetNonBlocking(out_.get()) != 0) out_.Close();
    if (SetNonBlocking(err_.get()) != 0) err_.Close();

    // Sleep between exit checks once there are no pipes to wait on (the child closed them or
    // exited). Starts short because the pipes usually close just before the child exits.
    milliseconds idle_sleep{1};
    while (true) {
      // Checked before polling too, so an already-cancelled token or past deadline acts at once.
      CheckExited();
      EnforceLimits(Clock::now());
      if (exited_ && !out_.valid() && !err_.valid()) break;

      pollfd fds[3];
      Fd* owners[3];
      nfds_t count = 0;
      for (Fd* fd : {&in_, &out_, &err_}) {
        if (!fd->valid()) continue;
        owners[count] = fd;
        fds[count++] = {fd->get(), static_cast<short>(fd == &in_ ? POLLOUT : POLLIN), 0};
      }
      milliseconds timeout = kPollInterval;
      if (count == 0) {
        timeout = idle_sleep;
        idle_sleep = std::min(idle_sleep * 2, kPollInterval);
      }
      int ready = poll(count == 0 ? nullptr : fds, count, static_cast<int>(timeout.count()));
      if (ready < 0 && errno != EINTR) {
        // Cannot happen with valid arguments; sleep rather than spin, keep the kill logic going.
        std::this_thread::sleep_for(kPollInterval);
      }
      for (nfds_t i = 0; ready > 0 && i < count; ++i) {
        if (fds[i].revents == 0) continue;
        // POLLERR/POLLHUP included: the write or read then reports EPIPE or EOF.
        if (owners[i] == &in_) {
          WriteStdin();
        } else {
          ReadInto(owners[i], /*tail=*/owners[i] == &err_);
        }
      }
    }
    in_.Close();
    EndStdoutLine();  // stdout may have been abandoned (see EnforceLimits) mid-line
    Reap();
    TrimTail();
  }

 private:
  void WriteStdin() {
    const std::string& data = run_.stdin_data;
    size_t size = std::min(kIoChunk, data.size() - stdin_offset_);
    ssize_t written = WriteWithoutSigpipe(in_.get(), data.data() + stdin_offset_, size);
    if (written > 0) {
      stdin_offset_ += static_cast<size_t>(written);
      if (stdin_offset_ == data.size()) in_.Close();  // EOF tells the child input is complete
    } else if (written < 0 && (errno == EAGAIN || errno == EINTR)) {
      // Not writable after all; poll again.
    } else {
      // EPIPE: the child closed stdin or exited without reading it all. Not an error of ours.
      in_.Close();
    }
  }

  void ReadInto(Fd* fd, bool tail) {
    ssize_t n = ::read(fd->get(), buffer_.data(), buffer_.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {  // EOF (all writers gone), or an error that will not go away
      fd->Close();
      if (!tail) EndStdoutLine();
      return;
    }
    const size_t got = static_cast<size_t>(n);
    if (!tail) {
      if (run_.on_stdout_line) {
        SplitLines(buffer_.data(), got);
      } else {
        KeepStdout(buffer_.data(), got);
      }
      return;
    }
    std::string& err = result_->stderr_tail;
    const size_t limit = run_.stderr_limit;
    err.append(buffer_.data(), got);
    // Trim only once the excess reaches the limit, so trimming costs amortised O(1) per byte.
    if (err.size() > limit && err.size() - limit >= std::max(limit, kIoChunk)) TrimTail();
  }

  void KeepStdout(const char* data, size_t size) {
    std::string& out = result_->stdout_data;
    const size_t limit = run_.output_limit;
    if (out.size() < limit) out.append(data, std::min(size, limit - out.size()));
  }

  // Passes complete lines to on_stdout_line; buffers at most output_limit bytes of a partial
  // line. A line found to be longer than that is kept as plain output, start to end.
  void SplitLines(const char* data, size_t size) {
    while (size > 0) {
      const char* newline = static_cast<const char*>(std::memchr(data, '\n', size));
      const size_t piece = newline == nullptr ? size : static_cast<size_t>(newline - data) + 1;
      const size_t text = newline == nullptr ? piece : piece - 1;
      if (!overlong_line_ && line_.size() + text > run_.output_limit) {
        KeepStdout(line_.data(), line_.size());
        line_.clear();
        overlong_line_ = true;
      }
      if (overlong_line_) {
        KeepStdout(data, piece);
        overlong_line_ = newline == nullptr;
      } else {
        line_.append(data, piece);
        if (newline != nullptr) EmitLine();
      }
      data += piece;
      size -= piece;
    }
  }

  // Delivers the last line if it had no '\n'. Idempotent.
  void EndStdoutLine() {
    if (!line_.empty()) EmitLine();
    overlong_line_ = false;
  }

  // line_ holds one line of at most output_limit bytes, plus its '\n' if it had one. noexcept:
  // the callback must not throw, and unwinding here would leave the child running and unreaped.
  void EmitLine() noexcept {
    std::string_view text = line_;
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!run_.on_stdout_line(text)) KeepStdout(line_.data(), line_.size());
    line_.clear();
  }

  // Keeps the last stderr_limit bytes, from the start of a UTF-8 character: a cut through one
  // would begin the message with a replacement character.
  void TrimTail() {
    std::string& err = result_->stderr_tail;
    if (err.size() <= run_.stderr_limit) return;
    size_t cut = err.size() - run_.stderr_limit;
    for (int i = 0; i < 3 && cut < err.size() && (err[cut] & 0xc0) == 0x80; ++i) ++cut;
    err.erase(0, cut);
  }

  // Notices the leader's exit without reaping it (WNOWAIT): while the zombie exists, its pid and
  // process group id cannot be reused, so kill(-pid_, ...) can only reach our own group until
  // Reap() at the very end.
  void CheckExited() {
    if (exited_) return;
    siginfo_t info;
    std::memset(&info, 0, sizeof(info));
    int rc = waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    if (rc == 0 && info.si_pid == pid_) {
      exited_ = true;
      exit_time_ = Clock::now();
    } else if (rc < 0 && errno == ECHILD) {
      // Reaped by someone else (SIGCHLD ignored, or a waitpid(-1) elsewhere): status unknown.
      exited_ = true;
      reaped_elsewhere_ = true;
      exit_time_ = Clock::now();
    }
  }

  bool StopRequested(Clock::time_point now) const {
    if (run_.cancel != nullptr && run_.cancel->cancelled()) return true;
    return run_.deadline != Clock::time_point{} && now >= run_.deadline;
  }

  void EnforceLimits(Clock::time_point now) {
    if (!exited_ && !term_sent_) {
      if (run_.cancel != nullptr && run_.cancel->cancelled()) {
        result_->cancelled = true;
      } else if (run_.deadline != Clock::time_point{} && now >= run_.deadline) {
        result_->timed_out = true;
      }
      if (result_->cancelled || result_->timed_out) {
        SignalGroup(SIGTERM);
        // A stopped process would keep SIGTERM pending until the grace runs out.
        SignalGroup(SIGCONT);
        term_sent_ = true;
        term_time_ = now;
      }
    }
    if (kill_sent_) {
      // Only processes that escaped the group can still hold the pipes; stop waiting for them.
      if (exited_ && ElapsedAtLeast(now, kill_time_, kAbandonPipesAfterKill)) {
        out_.Close();
        err_.Close();
      }
      return;
    }
    bool send_kill = term_sent_ && ElapsedAtLeast(now, term_time_, grace_);
    // The leader exited but something it started still holds stdout/stderr: give it the grace
    // period to finish, then kill it rather than hang on it (sooner if we must stop anyway).
    if (exited_ && (out_.valid() || err_.valid()) &&
        (ElapsedAtLeast(now, exit_time_, grace_) || StopRequested(now))) {
      send_kill = true;
    }
    if (send_kill) {
      SignalGroup(SIGKILL);
      kill_sent_ = true;
      kill_time_ = now;
    }
  }

  void SignalGroup(int sig) {
    // Fails with ESRCH once the whole group is gone, which is fine. Never reaches another
    // group: the unreaped leader keeps the id reserved (see CheckExited).
    if (!reaped_elsewhere_) ::kill(-pid_, sig);
  }

  void Reap() {
    if (reaped_elsewhere_) return;
    int status = 0;
    pid_t rc;
    do {
      rc = waitpid(pid_, &status, 0);
    } while (rc < 0 && errno == EINTR);
    if (rc != pid_) return;
    if (WIFEXITED(status)) result_->exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result_->signal = WTERMSIG(status);
  }

  const CommandRun& run_;
  const pid_t pid_;
  Fd in_;
  Fd out_;
  Fd err_;
  CommandResult* const result_;
  const milliseconds grace_;
  std::string buffer_;
  std::string line_;            // partial stdout line, with on_stdout_line only
  bool overlong_line_ = false;  // in a line too long for on_stdout_line: kept as output
  size_t stdin_offset_ = 0;
  bool exited_ = false;
  bool reaped_elsewhere_ = false;
  bool term_sent_ = false;
  bool kill_sent_ = false;
  Clock::time_point exit_time_;
  Clock::time_point term_time_;
  Clock::time_point kill_time_;
};

}  // namespace

std::string CommandResult::Describe() const {
  std::string out;
  if (!started) {
    out = error.empty() ? "not started" : error;
  } else {
    std::string how;
    const char* name = SignalName(signal);
    if (signal != 0 && (timed_out || cancelled) && name != nullptr) {
      how = std::string("killed by ") + name;  // we sent it; the number adds nothing
    } else if (signal != 0) {
      how = "killed by signal " + std::to_string(signal);
      if (name != nullptr) how += std::string(" (") + name + ")";
    } else if (exit_code >= 0) {
      how = "exited with status " + std::to_string(exit_code);
    } else {
      how = "exit status unknown";
    }
    if (timed_out) {
      out = "timed out after deadline; " + how;
    } else if (cancelled) {
      out = "cancelled; " + how;
    } else {
      out = std::move(how);
    }
  }
  size_t end = stderr_tail.find_last_not_of(" \t\r\n\f\v");
  if (end != std::string::npos) out += "; stderr: " + stderr_tail.substr(0, end + 1);
  return out;
}

CommandResult RunCommand(const CommandRun& run) {
  CommandResult result;
  if (run.argv.empty()) {
    result.error = "cannot execute: empty argv";
    return result;
  }
  Fd in_read, in_write, out_read, out_write, err_read, err_write;
  int err = MakePipe(&in_read, &in_write);
  if (err == 0) err = MakePipe(&out_read, &out_write);
  if (err == 0) err = MakePipe(&err_read, &err_write);
  if (err != 0) {
    result.error = "cannot execute '" + run.argv[0] + "': cannot create pipe: " + ErrnoText(err);
    return result;
  }

  pid_t pid = -1;
  {
    SpawnConfig config;
    err = config.Configure(in_read.get(), out_write.get(), err_write.get());
    if (err == 0) err = config.Spawn(run.argv, &pid);
  }
  // The child has its copies (or never started); ours must go, or we would never see EOF.
  in_read.Close();
  out_write.Close();
  err_write.Close();
  if (err != 0) {
    result.error = "cannot execute '" + run.argv[0] + "': " + ErrnoText(err);
    return result;
  }
  result.started = true;

  Child child(run, pid, std::move(in_write), std::move(out_read), std::move(err_read), &result);
  child.Run();
  return result;
}

}  // namespace spindle::runtime

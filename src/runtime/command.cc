#include "runtime/command.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "runtime/supervisor.h"

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
  int release() { return std::exchange(fd_, -1); }
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

// Process-wide: the lifeline every supervisor watches, and the process groups of the commands
// running now (for KillAllCommandGroups).
struct ProcessState {
  std::mutex mu;
  int lifeline_read = -1;
  int lifeline_write = -1;   // only this process holds it: close-on-exec, and closed in forks
  int inherited_read = -1;   // in a forked copy: the parent's read end, closed when replaced
  std::set<pid_t> groups;    // supervisor pids, which are the groups' ids
};

ProcessState& State() {
  // Never destroyed: other threads may still run commands while the process exits.
  static ProcessState* state = new ProcessState;
  return *state;
}

// A process forked from this one without exec (by code of the host's) must not hold the write
// end: it would keep this process's commands alive after this process died. It gets its own
// lifeline when it runs a command. (Supervisors are forked with ForkBare, which runs none of this,
// and close every fd they do not need anyway.)
void RegisterForkHandlers() {
  pthread_atfork([] { State().mu.lock(); }, [] { State().mu.unlock(); },
                 [] {
                   ProcessState& state = State();
                   if (state.lifeline_write >= 0) ::close(state.lifeline_write);
                   if (state.lifeline_read >= 0) state.inherited_read = state.lifeline_read;
                   state.lifeline_read = state.lifeline_write = -1;
                   state.mu.unlock();
                 });
}

// The read end of this process's lifeline, created on first use. Returns 0 or an errno.
int LifelineReadEnd(int* fd) {
  static std::once_flag registered;
  std::call_once(registered, RegisterForkHandlers);
  ProcessState& state = State();
  std::lock_guard lock(state.mu);
  if (state.lifeline_read < 0) {
    if (state.inherited_read >= 0) ::close(std::exchange(state.inherited_read, -1));
    Fd read_end, write_end;
    if (int err = MakePipe(&read_end, &write_end)) return err;
    state.lifeline_read = read_end.release();
    state.lifeline_write = write_end.release();
  }
  *fd = state.lifeline_read;
  return 0;
}

void TrackGroup(pid_t pgid) {
  std::lock_guard lock(State().mu);
  State().groups.insert(pgid);
}

// Before the supervisor is reaped: after that its pid, the group's id, may be reused.
void UntrackGroup(pid_t pgid) {
  std::lock_guard lock(State().mu);
  State().groups.erase(pgid);
}

// Where execvp would look for `name`, in order: the name itself if it has a '/', else each
// directory of `path` (PATH's value: an empty entry is the current directory; glibc's default if
// null).
std::vector<std::string> ExecPaths(const std::string& name, const char* path) {
  if (name.find('/') != std::string::npos) return {name};
  std::vector<std::string> paths;
  if (name.empty()) return paths;
  std::string_view dirs = path != nullptr ? path : "/bin:/usr/bin";
  while (true) {
    size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    paths.push_back(dir.empty() ? name : std::string(dir) + "/" + name);
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return paths;
}

// Reads one StartError written whole by the supervisor or the command, blocking until it
// arrives or every writer is gone. Returns false at EOF.
bool ReadStartError(int fd, StartError* value) {
  ssize_t n;
  do {
    n = ::read(fd, value, sizeof(*value));
  } while (n < 0 && errno == EINTR);
  return n == sizeof(*value);  // pipe writes this small are atomic
}

// "512 MiB", "1 GiB", or bytes when not a whole number of either.
std::string Bytes(uint64_t n) {
  static constexpr std::pair<uint64_t, const char*> kUnits[] = {
      {uint64_t{1} << 40, "TiB"}, {uint64_t{1} << 30, "GiB"}, {uint64_t{1} << 20, "MiB"},
      {uint64_t{1} << 10, "KiB"}};
  for (const auto& [size, unit] : kUnits) {
    if (n >= size && n % size == 0) return std::to_string(n / size) + " " + unit;
  }
  return std::to_string(n) + " bytes";
}

std::string CpuLimit(std::chrono::seconds s) {
  return "CPU limit of " + std::to_string(s.count()) + " s";
}

// The rlimits C sets on itself: the soft limit as asked, capped at the current hard limit (only
// a privileged process could raise that), and the hard limit lowered to it so that the command
// cannot raise it back. CPU keeps one second more as its hard limit: SIGXCPU first, SIGKILL
// then. Each entry's name is for messages.
std::vector<std::pair<PlannedLimit, std::string>> PlanLimits(const CommandLimits& limits) {
  std::vector<std::pair<PlannedLimit, std::string>> out;
  auto add = [&](int resource, uint64_t want, uint64_t hard_extra, std::string name) {
    rlimit current{};
    if (getrlimit(resource, &current) != 0) current.rlim_max = RLIM_INFINITY;
    const rlim_t soft = std::min<rlim_t>(want, current.rlim_max);
    const rlim_t hard =
        soft >= current.rlim_max - hard_extra ? current.rlim_max : soft + hard_extra;
    out.push_back({PlannedLimit{resource, {soft, hard}}, std::move(name)});
  };
  if (limits.cpu) {
    add(RLIMIT_CPU, static_cast<uint64_t>(limits.cpu->count()), 1, CpuLimit(*limits.cpu));
  }
  if (limits.memory) add(RLIMIT_AS, *limits.memory, 0, "memory limit of " + Bytes(*limits.memory));
  if (limits.files) {
    add(RLIMIT_NOFILE, *limits.files, 0, "open-files limit of " + std::to_string(*limits.files));
  }
  return out;
}

// Why C did not start, for the error list.
std::string StartErrorText(const CommandRun& run, const StartError& error,
                           const std::vector<std::pair<PlannedLimit, std::string>>& limits) {
  const std::string why = ErrnoText(error.err);
  const std::string& program = run.argv[0];
  if (error.step == kStartCwd) {
    return "cannot run '" + program + "' in directory '" + run.cwd + "': " + why;
  }
  if (error.step == kStartNice) {
    errno = 0;
    const int own = getpriority(PRIO_PROCESS, 0);
    return "cannot run '" + program + "' at niceness " + std::to_string(run.nice.value_or(0)) +
           ": " + why +
           (errno == 0 ? " (the worker runs at " + std::to_string(own) +
                             "; only a privileged worker may go lower)"
                       : "");
  }
  const size_t limit = static_cast<size_t>(error.step - kStartLimit);
  if (error.step >= kStartLimit && limit < limits.size()) {
    return "cannot set the " + limits[limit].second + " of '" + program + "': " + why;
  }
  std::string text = "cannot execute '" + program + "': " + why;
  if (error.err == ENOMEM && run.limits.memory) {
    text += " (under its memory limit of " + Bytes(*run.limits.memory) + ")";
  }
  return text;
}

void WaitForExit(pid_t pid, int* status) {
  while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
}

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

// The command while it runs: its pipes, its supervisor, and the state of the kill sequence.
// The supervisor S leads the command's process group; the command C is its child.
class Child {
 public:
  Child(const CommandRun& run, pid_t supervisor, Fd in, Fd out, Fd err, Fd status,
        CommandResult* result)
      : run_(run),
        pid_(supervisor),
        in_(std::move(in)),
        out_(std::move(out)),
        err_(std::move(err)),
        status_(std::move(status)),
        result_(result),
        grace_(std::max(run.kill_grace, milliseconds{0})),
        buffer_(kIoChunk, '\0') {}

  void Run() {
    if (run_.stdin_data.empty() || SetNonBlocking(in_.get()) != 0) in_.Close();
    // Without non-blocking reads a spurious wakeup could block us past the deadline.
    if (SetNonBlocking(out_.get()) != 0) out_.Close();
    if (SetNonBlocking(err_.get()) != 0) err_.Close();
    if (SetNonBlocking(status_.get()) != 0) status_.Close();

    // Sleep between exit checks once there are no pipes to wait on (the command closed them or
    // exited). Starts short because the pipes usually close just before the command exits.
    milliseconds idle_sleep{1};
    while (true) {
      // Checked before polling too, so an already-cancelled token or past deadline acts at once.
      CheckExited();
      EnforceLimits(Clock::now());
      if (supervisor_exited_ && !out_.valid() && !err_.valid()) break;

      pollfd fds[4];
      Fd* owners[4];
      nfds_t count = 0;
      // stderr before stdout: what a command wrote on stderr before a stdout line is taken in
      // before that line is handled (a helper's job ends with a line; runtime/helper.h).
      for (Fd* fd : {&in_, &err_, &out_, &status_}) {
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
        } else if (owners[i] == &status_) {
          ReadStatus();
        } else {
          ReadInto(owners[i], /*tail=*/owners[i] == &err_);
        }
      }
    }
    in_.Close();
    EndStdoutLine();  // stdout may have been abandoned (see EnforceLimits) mid-line
    UntrackGroup(pid_);
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
    if (run_.on_stderr) run_.on_stderr(std::string_view(buffer_.data(), got));
    std::string& err = result_->stderr_tail;
    const size_t limit = run_.stderr_limit;
    err.append(buffer_.data(), got);
    // Trim only once the excess reaches the limit, so trimming costs amortised O(1) per byte.
    if (err.size() > limit && err.size() - limit >= std::max(limit, kIoChunk)) TrimTail();
  }

  // The supervisor writes the command's wait status once, when the command has exited, and
  // closes the pipe when it exits itself.
  void ReadStatus() {
    int status = 0;
    ssize_t n = ::read(status_.get(), &status, sizeof(status));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n == sizeof(status) && !have_status_) {
      have_status_ = true;
      command_status_ = status;
      return;
    }
    status_.Close();  // EOF: the supervisor is gone (a write this small is never split)
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
        overlong_bytes_ = line_.size();
        line_.clear();
        overlong_line_ = true;
      }
      if (overlong_line_) {
        KeepStdout(data, piece);
        overlong_bytes_ += text;
        if (newline != nullptr) EndOverlongLine();
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
    if (overlong_line_) EndOverlongLine();
  }

  void EndOverlongLine() noexcept {
    overlong_line_ = false;
    if (run_.on_overlong_line) run_.on_overlong_line(overlong_bytes_);
  }

  // line_ holds one line of at most output_limit bytes, plus its '\n' if it had one. noexcept:
  // the callback must not throw, and unwinding here would leave the child running and unreaped.
  void EmitLine() noexcept {
    std::string_view text = line_;
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!run_.on_stdout_line(text)) KeepStdout(line_.data(), line_.size());
    line_.clear();
  }

  void TrimTail() { KeepTail(result_->stderr_tail, run_.stderr_limit); }

  // Notices the supervisor's exit without reaping it (WNOWAIT): while the zombie exists, its pid
  // and process group id cannot be reused, so kill(-pid_, ...) can only reach our own group until
  // Reap() at the very end. The command itself has exited once the supervisor reported its
  // status, or once the supervisor is gone (it never leaves a command behind alive: PDEATHSIG).
  void CheckExited() {
    if (!supervisor_exited_) {
      siginfo_t info;
      std::memset(&info, 0, sizeof(info));
      int rc = waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
      if (rc == 0 && info.si_pid == pid_) {
        supervisor_exited_ = true;
      } else if (rc < 0 && errno == ECHILD) {
        // Reaped by someone else (SIGCHLD ignored, or a waitpid(-1) elsewhere).
        supervisor_exited_ = true;
        reaped_elsewhere_ = true;
      }
      // What the supervisor wrote before it exited.
      if (supervisor_exited_ && status_.valid() && !have_status_) ReadStatus();
    }
    if (!exited_ && (have_status_ || supervisor_exited_)) {
      exited_ = true;
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
        // Reaches the command and all of its group; the supervisor ignores it.
        SignalGroup(SIGTERM);
        // A stopped process would keep SIGTERM pending until the grace runs out.
        SignalGroup(SIGCONT);
        term_sent_ = true;
        term_time_ = now;
      }
    }
    if (kill_sent_) {
      // Only processes that escaped the group can still hold the pipes; stop waiting for them.
      if (supervisor_exited_ && ElapsedAtLeast(now, kill_time_, kAbandonPipesAfterKill)) {
        out_.Close();
        err_.Close();
      }
      return;
    }
    bool send_kill = term_sent_ && ElapsedAtLeast(now, term_time_, grace_);
    // The command exited but something it started still runs (the supervisor waits for the
    // orphans it adopted) or holds stdout/stderr: give it the grace period to finish, then kill
    // it rather than leave it behind or hang on it (sooner if we must stop anyway).
    if (exited_ && (out_.valid() || err_.valid() || !supervisor_exited_) &&
        (ElapsedAtLeast(now, exit_time_, grace_) || StopRequested(now))) {
      send_kill = true;
    }
    if (send_kill) {
      // The supervisor dies with its group.
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
    int supervisor_status = 0;
    if (!reaped_elsewhere_) WaitForExit(pid_, &supervisor_status);
    if (!have_status_ && status_.valid()) ReadStatus();
    // Without a report, the supervisor was killed before the command's exit reached it: by our
    // SIGKILL to the group (or KillAllCommandGroups), which killed the command too, or by someone
    // else, and then the command got the same SIGKILL from PR_SET_PDEATHSIG.
    const int status = have_status_ ? command_status_ : supervisor_status;
    if (!have_status_ && (reaped_elsewhere_ || !WIFSIGNALED(status))) return;  // unknown
    if (WIFEXITED(status)) result_->exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result_->signal = WTERMSIG(status);
  }

  const CommandRun& run_;
  const pid_t pid_;  // the supervisor's, which is also the process group's id
  Fd in_;
  Fd out_;
  Fd err_;
  Fd status_;
  CommandResult* const result_;
  const milliseconds grace_;
  std::string buffer_;
  std::string line_;            // partial stdout line, with on_stdout_line only
  bool overlong_line_ = false;  // in a line too long for on_stdout_line: kept as output
  size_t overlong_bytes_ = 0;   // its length so far
  size_t stdin_offset_ = 0;
  bool have_status_ = false;    // the supervisor reported the command's wait status...
  int command_status_ = 0;      // ...this one
  bool supervisor_exited_ = false;
  bool exited_ = false;         // the command has exited (the supervisor may still wait)
  bool reaped_elsewhere_ = false;
  bool term_sent_ = false;
  bool kill_sent_ = false;
  Clock::time_point exit_time_;
  Clock::time_point term_time_;
  Clock::time_point kill_time_;
};

}  // namespace

void KeepTail(std::string& text, size_t limit) {
  if (text.size() <= limit) return;
  size_t cut = text.size() - limit;
  for (int i = 0; i < 3 && cut < text.size() && (text[cut] & 0xc0) == 0x80; ++i) ++cut;
  text.erase(0, cut);
}

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
    if (signal == SIGXCPU && limits.cpu && !timed_out && !cancelled) {
      how = "exceeded its " + CpuLimit(*limits.cpu) + " (SIGXCPU)";
    } else if (signal == SIGKILL && limits.cpu && !timed_out && !cancelled) {
      how += "; a likely cause: its " + CpuLimit(*limits.cpu) +
             " (SIGKILL a second past it when SIGXCPU is caught or ignored)";
    } else if ((signal == SIGSEGV || signal == SIGABRT || signal == SIGBUS) && limits.memory) {
      how += "; a likely cause: an allocation refused under its memory limit of " +
             Bytes(*limits.memory);
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
  result.limits = run.limits;
  if (run.argv.empty()) {
    if (run.stdin_fd >= 0) ::close(run.stdin_fd);
    result.error = "cannot execute: empty argv";
    return result;
  }
  const std::string cannot = "cannot execute '" + run.argv[0] + "': ";
  int lifeline = -1;
  Fd in_read(run.stdin_fd), in_write, out_read, out_write, err_read, err_write;
  Fd exec_error_read, exec_error_write, status_read, status_write;
  int err = LifelineReadEnd(&lifeline);
  if (err == 0) err = in_read.valid() ? MoveAboveStdio(&in_read) : MakePipe(&in_read, &in_write);
  if (err == 0) err = MakePipe(&out_read, &out_write);
  if (err == 0) err = MakePipe(&err_read, &err_write);
  if (err == 0) err = MakePipe(&exec_error_read, &exec_error_write);
  if (err == 0) err = MakePipe(&status_read, &status_write);
  if (err != 0) {
    result.error = cannot + "cannot create pipe: " + ErrnoText(err);
    return result;
  }

  // Everything the supervisor and the command need, made before fork (see supervisor.h).
  std::vector<char*> cenv;
  const char* path_value = std::getenv("PATH");
  if (run.env) {
    path_value = nullptr;
    for (const std::string& entry : *run.env) {
      cenv.push_back(const_cast<char*>(entry.c_str()));
      if (entry.rfind("PATH=", 0) == 0) path_value = entry.c_str() + 5;
    }
    cenv.push_back(nullptr);
  }
  const std::vector<std::string> paths = ExecPaths(run.argv[0], path_value);
  std::vector<const char*> cpaths;
  for (const std::string& path : paths) cpaths.push_back(path.c_str());
  cpaths.push_back(nullptr);
  std::vector<char*> cargv;
  for (const std::string& arg : run.argv) cargv.push_back(const_cast<char*>(arg.c_str()));
  cargv.push_back(nullptr);
  const auto limits = PlanLimits(run.limits);
  std::vector<PlannedLimit> climits;
  for (const auto& [limit, name] : limits) climits.push_back(limit);
  const SupervisorPlan plan{.lifeline = lifeline,
                            .stdin_fd = in_read.get(),
                            .stdout_fd = out_write.get(),
                            .stderr_fd = err_write.get(),
                            .exec_error_fd = exec_error_write.get(),
                            .status_fd = status_write.get(),
                            .paths = cpaths.data(),
                            .argv = cargv.data(),
                            .envp = run.env ? cenv.data() : environ,
                            .dead_by = run.fence ? run.fence->slot() : nullptr,
                            .cwd = run.cwd.empty() ? nullptr : run.cwd.c_str(),
                            .set_nice = run.nice.has_value(),
                            .nice = run.nice.value_or(0),
                            .limits = climits.data(),
                            .limit_count = static_cast<int>(climits.size())};

  const pid_t pid = ForkBare();
  if (pid == 0) RunSupervisor(plan);
  err = errno;
  // The supervisor has its copies (or never started); ours must go, or we would never see EOF.
  in_read.Close();
  out_write.Close();
  err_write.Close();
  exec_error_write.Close();
  status_write.Close();
  if (pid < 0) {
    result.error = cannot + ErrnoText(err);
    return result;
  }
  // EOF as soon as the command has exec'd; a StartError if it could not be started.
  if (StartError start; ReadStartError(exec_error_read.get(), &start)) {
    int status;
    WaitForExit(pid, &status);  // it exits as soon as it has reaped the command
    result.error = StartErrorText(run, start, limits);
    return result;
  }
  result.started = true;

  TrackGroup(pid);
  Child child(run, pid, std::move(in_write), std::move(out_read), std::move(err_read),
              std::move(status_read), &result);
  child.Run();
  return result;
}

void KillAllCommandGroups() {
  ProcessState& state = State();
  std::lock_guard lock(state.mu);
  for (pid_t pgid : state.groups) ::kill(-pgid, SIGKILL);
}

}  // namespace spindle::runtime

#include "runtime/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace spindle::runtime {
namespace {

// Once the lifeline is lost: how long to wait for killed children to exit before looking for
// the next generation (their orphans, which have become S's children), and how many rounds
// before S gives up on the stragglers and kills its own group, itself with it.
constexpr int kSweepWaitMs = 10;
constexpr int kSweepRounds = 100;
// Without a signalfd (it cannot fail in practice), how often S looks for exited children.
constexpr int kReapIntervalMs = 100;
// How often S looks at the worker's fence deadline.
constexpr int kFenceCheckMs = 50;

void WriteAll(int fd, const void* bytes, size_t size) {
  const char* data = static_cast<const char*>(bytes);
  size_t left = size;
  while (left > 0) {
    ssize_t n = write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the worker is gone: nobody to tell
    data += n;
    left -= static_cast<size_t>(n);
  }
}

void WriteInt(int fd, int value) { WriteAll(fd, &value, sizeof(value)); }

// Tells the worker why C is not running; never returns.
[[noreturn]] void FailStart(int fd, int step, int err) {
  const StartError error{.step = step, .err = err};
  WriteAll(fd, &error, sizeof(error));  // small enough to arrive whole
  _exit(127);
}

void CloseRange(unsigned first, unsigned last) {
  if (first > last) return;
#ifdef SYS_close_range
  if (syscall(SYS_close_range, first, last, 0) == 0) return;
#endif
  // Kernels before 5.9: one by one, up to the limit on open fds.
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  for (rlim_t fd = first; fd <= last && fd < limit.rlim_cur; ++fd) close(static_cast<int>(fd));
}

// S inherited every fd of the worker: other commands' pipe ends (holding them would keep those
// commands' readers from ever seeing EOF), database sockets, the lifeline's write end (holding it
// would keep S itself from seeing the worker die). It keeps only `keep`.
void CloseAllExcept(int* keep, int count) {
  for (int i = 1; i < count; ++i) {  // insertion sort: a handful of ints
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) {
      int t = keep[j];
      keep[j] = keep[j - 1];
      keep[j - 1] = t;
    }
  }
  unsigned next = 0;
  for (int i = 0; i < count; ++i) {
    if (keep[i] < 0) continue;
    if (static_cast<unsigned>(keep[i]) > next) CloseRange(next, static_cast<unsigned>(keep[i]) - 1);
    next = static_cast<unsigned>(keep[i]) + 1;
  }
  CloseRange(next, ~0U);
}

// The worker's fence deadline passed: it could not reach the database in time, and may be
// unable to act (frozen), so S kills the command as if the worker were gone.
bool FenceExpired(const std::atomic<int64_t>* dead_by) {
  if (dead_by == nullptr) return false;
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec > dead_by->load();
}

bool LifelineLost(int lifeline, int timeout_ms) {
  pollfd fd{lifeline, POLLIN, 0};
  return poll(&fd, 1, timeout_ms) > 0;  // the worker never writes to it: any event is EOF
}

// SIGKILLs every child of S, as /proc lists them (S has one thread, so its thread's children are
// all of them). Returns how many, or -1 if the list cannot be read.
int KillChildren() {
  int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int found = 0;
  pid_t pid = 0;
  char buffer[256];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    // The list ends with a space after each pid; n <= 0 is its end (or an error: give up).
    for (ssize_t i = 0; i < n; ++i) {
      if (buffer[i] >= '0' && buffer[i] <= '9') {
        pid = pid * 10 + (buffer[i] - '0');
      } else if (pid > 0) {
        kill(pid, SIGKILL);
        ++found;
        pid = 0;
      }
    }
    if (n <= 0) break;
  }
  if (pid > 0) {
    kill(pid, SIGKILL);
    ++found;
  }
  close(fd);
  return found;
}

// C, in the child of S: stdio onto the pipes, signals as a fresh program expects, then exec.
// Runs in a vfork() child, on S's memory: it only makes system calls and writes its own frame,
// which must not be merged into S's (noinline).
[[noreturn, gnu::noinline]] void ExecCommand(const SupervisorPlan& plan, pid_t supervisor) {
  // Dies with S (a parent that has one thread, so this is not tied to some thread's life). If S
  // died before this took effect, C was reparented already: stop here.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != supervisor) _exit(127);
  // The pipe ends are all >= 3, so these cannot clobber each other. The copies are not
  // close-on-exec; the originals are.
  int err = 0;
  if (dup2(plan.stdin_fd, STDIN_FILENO) < 0 || dup2(plan.stdout_fd, STDOUT_FILENO) < 0 ||
      dup2(plan.stderr_fd, STDERR_FILENO) < 0) {
    err = errno;
  }
  // Ignored signals stay ignored across exec; the host may ignore SIGPIPE (common in servers)
  // and the command must still die of it like a normal program, and must be stoppable with
  // TERM/INT. SIGCHLD ignored would make wait() fail inside shell scripts. S blocked every
  // signal, and a host thread may have blocked some: the command starts with none blocked.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  const int defaults[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD};
  for (int sig : defaults) sigaction(sig, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  // The kind's controls, on C alone: S keeps the worker's limits and niceness.
  if (err == 0 && plan.cwd != nullptr && chdir(plan.cwd) != 0) {
    FailStart(plan.exec_error_fd, kStartCwd, errno);
  }
  if (err == 0 && plan.set_nice && setpriority(PRIO_PROCESS, 0, plan.nice) != 0) {
    FailStart(plan.exec_error_fd, kStartNice, errno);
  }
  for (int i = 0; err == 0 && i < plan.limit_count; ++i) {
    if (setrlimit(plan.limits[i].resource, &plan.limits[i].value) != 0) {
      FailStart(plan.exec_error_fd, kStartLimit + i, errno);
    }
  }

  // execvp's search: go on past paths that do not lead to a program, report EACCES if some path
  // had a file we may not execute, else the last error.
  bool denied = false;
  for (const char* const* path = plan.paths; err == 0 && *path != nullptr; ++path) {
    execve(*path, plan.argv, plan.envp);
    switch (errno) {
      case EACCES:
        denied = true;
        break;
      case ENOENT:
      case ENOTDIR:
      case ESTALE:
      case ENODEV:
      case ETIMEDOUT:
        break;
      default:
        err = errno;
    }
  }
  if (err == 0) err = denied ? EACCES : ENOENT;
  FailStart(plan.exec_error_fd, kStartExec, err);
}

}  // namespace

pid_t ForkBare() {
  // clone with only SIGCHLD is fork(), without glibc's atfork handlers (its own and other
  // libraries'), which may lock or allocate.
  return static_cast<pid_t>(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
}

void RunSupervisor(const SupervisorPlan& plan) {
  // Signals sent to the group are for the command: S must survive the worker's SIGTERM and
  // whatever the command sends to its own group (kill 0). Only SIGKILL ends S. SIGCHLD is read
  // from a signalfd below; it must not be ignored, or children would be reaped by the kernel.
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &default_action, nullptr);
  if (setpgid(0, 0) != 0) {  // cannot fail for a child that does not lead a session
    FailStart(plan.exec_error_fd, kStartExec, errno);
  }
  // Orphaned descendants of C become children of S, so S can wait for them and kill them.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  // A name of its own in ps and top, where it would look like a second worker. A raw system
  // call: ASan's prctl interceptor takes a lock for this option (another thread may have held it).
  syscall(SYS_prctl, PR_SET_NAME, "supervisor", 0, 0, 0);
  int keep[] = {plan.lifeline,      plan.stdin_fd,  plan.stdout_fd, plan.stderr_fd,
                plan.exec_error_fd, plan.status_fd};
  CloseAllExcept(keep, sizeof(keep) / sizeof(keep[0]));
  // The worker died already, or is fenced: start nothing.
  if (LifelineLost(plan.lifeline, 0) || FenceExpired(plan.dead_by)) _exit(0);

  // vfork: a fork would copy S's page tables, which are the whole worker's, only for C to
  // discard them at exec (a cost that grows with the worker's memory). S is single-threaded and
  // waits while C runs ExecCommand.
  const pid_t self = getpid();
  const pid_t command = vfork();
  if (command == 0) ExecCommand(plan, self);
  if (command < 0) FailStart(plan.exec_error_fd, kStartExec, errno);
  // Only C may hold these now: the worker sees EOF on stdout/stderr when C and what it started
  // close them, and on exec_error_fd when C has exec'd.
  close(plan.stdin_fd);
  close(plan.stdout_fd);
  close(plan.stderr_fd);
  close(plan.exec_error_fd);

  sigset_t child_signal;
  sigemptyset(&child_signal);
  sigaddset(&child_signal, SIGCHLD);
  const int signals = signalfd(-1, &child_signal, SFD_NONBLOCK | SFD_CLOEXEC);
  bool lost = false;
  int rounds = 0;
  while (true) {
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid == command) WriteInt(plan.status_fd, status);
    }
    if (pid < 0 && errno == ECHILD) _exit(0);
    if (lost && (rounds++ == kSweepRounds || KillChildren() < 0)) kill(0, SIGKILL);

    pollfd fds[2] = {{signals, POLLIN, 0}, {plan.lifeline, POLLIN, 0}};
    // With a fence deadline, look at it often: the worker moves it, so it cannot be slept to.
    const int timeout = lost                               ? kSweepWaitMs
                        : signals < 0                      ? kReapIntervalMs
                        : plan.dead_by != nullptr ? kFenceCheckMs
                                                           : -1;
    if (poll(fds, lost ? 1 : 2, timeout) > 0 && !lost && fds[1].revents != 0) lost = true;
    if (!lost && FenceExpired(plan.dead_by)) lost = true;
    signalfd_siginfo info;
    while (signals >= 0 && read(signals, &info, sizeof(info)) > 0) {
    }
  }
}

}  // namespace spindle::runtime

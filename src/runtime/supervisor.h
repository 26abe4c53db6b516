// The supervisor: a tiny process between the worker and each command it runs, so that no command
// outlives the worker process (runtime/command.h says what is and is not covered).
//
// The worker forks the supervisor S; S starts the command C. S leads C's process group, so the
// worker signals the whole group as before (S ignores all but SIGKILL), and S stays the group's
// unreaped leader while any of it may live: it exits once it has no children left. S watches the
// worker's lifeline, a pipe whose write end only the worker process holds: when the worker
// process is gone, for any reason, S sees EOF and kills its children, round after round, as
// their own children are orphaned into it; then it exits, or kills its group after kSweepRounds.
// C dies with S (PR_SET_PDEATHSIG, which is tied to S's single thread).
//
// Everything here runs in a child of fork() in a multithreaded process: async-signal-safe calls
// only (no allocation, no locks, no logging). All the data is prepared before fork.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>

namespace spindle::runtime {

// One resource limit C sets on itself before exec (never on S, which must stay able to act).
struct PlannedLimit {
  int resource = 0;  // RLIMIT_*
  rlimit value{};
};

// What C could not do before running the command, written whole to exec_error_fd: the step
// (kStartExec, or kStartCwd, kStartNice, kStartLimit + the limit's index) and an errno.
enum StartStep : int { kStartExec = 0, kStartCwd = 1, kStartNice = 2, kStartLimit = 3 };
struct StartError {
  int step = kStartExec;
  int err = 0;
};

struct SupervisorPlan {
  int lifeline = -1;       // read end of the worker's lifeline; it never carries data
  int stdin_fd = -1;       // the command's stdin, stdout and stderr: pipe ends, all >= 3
  int stdout_fd = -1;
  int stderr_fd = -1;
  int exec_error_fd = -1;  // close-on-exec write end: a StartError if C could not be started
  int status_fd = -1;      // write end: C's wait status (int), once C has exited
  // The paths to try in order with execve, as execvp would (its PATH search is not
  // async-signal-safe, so it is done before fork). Null-terminated, like argv and envp.
  const char* const* paths = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  // CLOCK_MONOTONIC nanoseconds by which the command must be dead, in memory shared with the
  // worker, which moves it (runtime/command_fence.h); null: no deadline.
  const std::atomic<int64_t>* dead_by = nullptr;
  // Applied by C to itself before exec, in this order (so a relative path to the program is
  // found from cwd, as with Python's subprocess).
  const char* cwd = nullptr;  // null: stay in the worker's
  bool set_nice = false;
  int nice = 0;
  const PlannedLimit* limits = nullptr;
  int limit_count = 0;
};

// fork() without running pthread_atfork handlers: the child of a multithreaded process must not
// take locks the other threads may have held, nor allocate. Returns like fork().
pid_t ForkBare();

// The supervisor's whole life, in the child of ForkBare(). Never returns. S exits once it has no
// children left; it reports C's exit only through status_fd.
[[noreturn]] void RunSupervisor(const SupervisorPlan& plan);

}  // namespace spindle::runtime

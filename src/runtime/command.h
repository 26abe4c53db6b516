// Runs an external program as a child process, the way a job handler that shells out needs it:
// no shell, bounded captured output, a deadline and a cancel token that kill the whole process
// group (first SIGTERM, then SIGKILL), and no leaked fds or zombies.
//
// No command outlives the process that runs it. Each command C runs under its own tiny
// supervisor process S (runtime/supervisor.h) that leads C's process group. As soon as this
// process is gone, for any reason (SIGKILL, a crash, _Exit), S kills C and then, generation by
// generation, every descendant orphaned into it (PR_SET_CHILD_SUBREAPER: killing a process
// orphans its children into S), so also descendants that left the group; after about a second
// it SIGKILLs the whole group, itself included. Nothing of this depends on the thread that
// started the command. Not covered: a descendant that left the group (setsid, setpgid) when
// this process, not S, SIGKILLs the group (timeout, cancel, leftovers past kill_grace): S dies
// with the group and the descendant goes on under init. A cgroup would be the next step.
//
// The engine is multithreaded: between fork and exec only async-signal-safe calls are made, and
// all pipes are close-on-exec, so a command started on one thread never inherits another's pipes.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/command_fence.h"
#include "spindle/handler.h"
#include "spindle/worker.h"

namespace spindle::runtime {

struct CommandRun {
  // Executed exactly, no shell; argv[0] is looked up in PATH if it has no '/'.
  std::vector<std::string> argv;
  // Written to the child's stdin, then stdin is closed. A child that exits or closes stdin
  // before reading it all is not an error.
  std::string stdin_data;
  // Instead of stdin_data: this fd (a pipe's or a socket's read end, whose other end the caller
  // keeps to go on writing while the command runs) becomes the command's stdin. RunCommand owns
  // it from the call on and closes it once the command has its copy.
  int stdin_fd = -1;
  // Timeout. The default (the steady clock's epoch) means "no deadline", so that a
  // default-constructed run does not time out at once.
  std::chrono::steady_clock::time_point deadline;
  // SIGTERM to the process group, then SIGKILL after this. Also how long processes left behind
  // by an exited leader may keep stdout/stderr open before the group is SIGKILLed.
  std::chrono::milliseconds kill_grace{5000};
  // If set and cancelled: same as a timeout (SIGTERM group, then SIGKILL).
  const CancelToken* cancel = nullptr;
  // If set: the supervisor SIGKILLs the command's group as soon as this deadline passes (it
  // moves; see command_fence.h), whatever the caller does meanwhile.
  const CommandFence* fence = nullptr;
  // Keep at most this many bytes of stdout (its first bytes). Output beyond the limit is still
  // read (and dropped) so the child never blocks on a full pipe.
  size_t output_limit = 64 * 1024;
  // Keep at most this many of the LAST bytes of stderr: a failing program says why at the end.
  // Small, so that Describe() stays well below the 16 KiB an error message is stored in even if
  // every byte is invalid UTF-8 and replaced by three (core::CleanText).
  size_t stderr_limit = 4 * 1024;
  // If set, called with each complete line of stdout (without its '\n'; a trailing '\r' is kept)
  // as soon as it arrives, on the thread that called RunCommand, and with the last unterminated
  // line at end of output. Return true when the line was consumed: it is then not kept in
  // stdout_data. Lines longer than output_limit are not passed to it (their first bytes are kept as
  // output as before). May throw nothing (a throw terminates the process).
  std::function<bool(std::string_view line)> on_stdout_line;
  // If set (with on_stdout_line), called with the length of each line longer than output_limit
  // once it has ended. May throw nothing.
  std::function<void(size_t bytes)> on_overlong_line;
  // If set, called with each piece of stderr as it is read (it is also kept in stderr_tail), on
  // the thread that called RunCommand. May throw nothing.
  std::function<void(std::string_view piece)> on_stderr;
  // Set on the command alone, not on its supervisor (see CommandOptions). A cwd, niceness or
  // limit that cannot be applied is a start failure ("cannot run ... in directory ...").
  std::string cwd;  // empty: this process's
  std::optional<int> nice;
  CommandLimits limits;
  // The command's whole environment, "NAME=value" each; argv[0] is looked up in its PATH.
  // Unset: this process's environment.
  std::optional<std::vector<std::string>> env;
};

struct CommandResult {
  bool started = false;     // false if spawning failed (e.g. no such file); then `error` says why
  std::string error;        // spawn error, e.g. "cannot execute 'foo': No such file or directory"
  int exit_code = -1;       // exit status when exited normally, else -1
  int signal = 0;           // terminating signal, else 0
  bool timed_out = false;   // deadline passed and we signalled it
  bool cancelled = false;   // cancel token fired and we signalled it
  std::string stdout_data;  // first output_limit bytes (of the lines not consumed, if any)
  std::string stderr_tail;  // last stderr_limit bytes (fewer to start on a UTF-8 character)
  CommandLimits limits;     // the run's, for Describe()

  // One line for an error list, e.g. "exited with status 3", "killed by signal 9 (SIGKILL)",
  // "timed out after deadline; killed by SIGKILL", "cannot execute ...", "exceeded its CPU
  // limit of 30 s (SIGXCPU)". A death by a signal a limit may explain (SIGKILL under a CPU limit;
  // SIGSEGV, SIGABRT, SIGBUS under a memory limit) names the limit as a likely cause. When
  // stderr_tail is non-empty, "; stderr: <tail trimmed of trailing whitespace>" is appended.
  std::string Describe() const;
};

// Keeps the last `limit` bytes of `text`, from the start of a UTF-8 character: a cut through one
// would begin the message with a replacement character.
void KeepTail(std::string& text, size_t limit);

// Runs the command to completion, blocking the calling thread. Thread-safe: many threads may
// call it at once. Returns once the command has exited and nothing it started is left in its
// process group: what remains gets kill_grace, then SIGKILL. Requires that nothing else in the
// process reaps its child (no waitpid(-1) elsewhere, SIGCHLD not ignored); if something does, a
// kill may come too late.
CommandResult RunCommand(const CommandRun& run);

// SIGKILLs the process group of every command this process is running now (supervisors
// included); their RunCommand calls then return "killed by signal 9 (SIGKILL)". For a process
// about to _Exit: its supervisors would kill the groups anyway, this does it before. Any thread
// may call it; not async-signal-safe.
void KillAllCommandGroups();

}  // namespace spindle::runtime

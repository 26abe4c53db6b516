#include "runtime/command.h"
#include "runtime/command_protocol.h"

#include "core/text.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace spindle::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Generous bounds: the test machine is a busy 2-core box, so only assert "well within".
constexpr seconds kSafetyDeadline{60};  // turns a would-be hang into a failed assertion
constexpr seconds kPromptly{5};

CommandRun MakeRun(std::vector<std::string> argv) {
  CommandRun run;
  run.argv = std::move(argv);
  run.deadline = Clock::now() + kSafetyDeadline;
  return run;
}

// A pid counts as gone when it no longer exists or is a zombie: orphaned grandchildren are
// reparented to pid 1, which in a container is not always a real init that reaps them.
bool ProcessGone(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() &&
         (line[paren + 2] == 'Z' || line[paren + 2] == 'X');
}

bool WaitUntilGone(pid_t pid, Clock::duration limit) {
  const auto until = Clock::now() + limit;
  while (!ProcessGone(pid)) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

int CountOpenFds() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count;
}

std::string Pattern(size_t size, unsigned seed) {
  std::string s(size, '\0');
  unsigned x = seed * 2654435761u + 1;
  for (char& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

std::vector<pid_t> ParsePids(const std::string& text) {
  std::istringstream in(text);
  std::vector<pid_t> pids;
  pid_t pid;
  while (in >> pid) pids.push_back(pid);
  return pids;
}

std::string TempPath(const std::string& name) {
  const char* tmpdir = std::getenv("TMPDIR");
  return std::string(tmpdir != nullptr && *tmpdir ? tmpdir : "/tmp") + "/spindle_command_test_" +
         name + "_" + std::to_string(getpid());
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST(RunCommandTest, CapturesStdoutAndExitCodeZero) {
  CommandResult r = RunCommand(MakeRun({"/bin/sh", "-c", "printf 'hello\\nworld'"}));
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.signal, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.cancelled);
  EXPECT_EQ(r.stdout_data, "hello\nworld");
  EXPECT_EQ(r.stderr_tail, "");
  EXPECT_EQ(r.Describe(), "exited with status 0");
}

TEST(RunCommandTest, LooksUpArgv0InPath) {
  CommandResult r = RunCommand(MakeRun({"echo", "via path"}));
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_data, "via path\n");
}

TEST(RunCommandTest, DeliversLargeStdinWithoutDeadlock) {
  // cat writes back while we are still writing: without poll-driven non-blocking I/O on both
  // sides, both pipes fill up and parent and child wait on each other forever.
  const std::string input = Pattern(1 << 20, 1);
  CommandRun run = MakeRun({"/bin/cat"});
  run.stdin_data = input;
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.stdout_data.size(), run.output_limit);
  EXPECT_TRUE(r.stdout_data == input.substr(0, run.output_limit));
}

TEST(RunCommandTest, EchoesAllStdinWhenLimitAllows) {
  const std::string input = Pattern(3 << 20, 2);
  CommandRun run = MakeRun({"/bin/cat"});
  run.stdin_data = input;
  run.output_limit = 4 << 20;
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.stdout_data.size(), input.size());
  EXPECT_TRUE(r.stdout_data == input);
}

TEST(RunCommandTest, ChildIgnoringStdinDoesNotRaiseSigpipe) {
  // /bin/true exits without reading: our writes fail with EPIPE. The default SIGPIPE action
  // would kill this test binary; the signal must be consumed and not left pending either.
  CommandRun run = MakeRun({"/bin/true"});
  run.stdin_data = Pattern(4 << 20, 3);
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  sigset_t pending;
  sigemptyset(&pending);
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_FALSE(sigismember(&pending, SIGPIPE));
}

TEST(RunCommandTest, ExitStatusAndStderr) {
  CommandResult r = RunCommand(MakeRun({"/bin/sh", "-c", "echo boom >&2; exit 3"}));
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.stderr_tail, "boom\n");
  EXPECT_NE(r.Describe().find("status 3"), std::string::npos) << r.Describe();
  EXPECT_NE(r.Describe().find("boom"), std::string::npos) << r.Describe();
  EXPECT_EQ(r.Describe(), "exited with status 3; stderr: boom");
}

TEST(RunCommandTest, StderrKeepsLastBytes) {
  CommandRun run =
      MakeRun({"/bin/sh", "-c",
               "i=0; while [ $i -lt 20000 ]; do echo \"line $i\" >&2; i=$((i+1)); done; "
               "printf END >&2"});
  run.stderr_limit = 100;
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.stderr_tail.size(), 100u);
  EXPECT_EQ(r.stderr_tail.substr(r.stderr_tail.size() - 14), "line 19999\nEND");
  EXPECT_EQ(r.stderr_tail.find("line 0\n"), std::string::npos);
}

TEST(RunCommandTest, StderrTailStartsOnACharacter) {
  // Two-byte characters and an odd limit: the tail drops the half character at its start.
  CommandRun run = MakeRun({"/bin/sh", "-c", "i=0; while [ $i -lt 100 ]; do printf '\\303\\251' >&2; "
                                             "i=$((i+1)); done"});
  run.stderr_limit = 11;
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  std::string expected;
  for (int i = 0; i < 5; ++i) expected += "\xc3\xa9";
  EXPECT_EQ(r.stderr_tail, expected);
}

TEST(RunCommandTest, StdoutAndStderrLimitsAreSeparate) {
  CommandRun run = MakeRun({"/bin/sh", "-c", "echo 0123456789; echo abcdefghij >&2"});
  run.output_limit = 4;
  run.stderr_limit = 6;
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.stdout_data, "0123");
  EXPECT_EQ(r.stderr_tail, "fghij\n");
}

TEST(RunCommandTest, StdoutKeepsFirstBytes) {
  CommandRun run = MakeRun(
      {"/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo \"line $i\"; i=$((i+1)); done"});
  run.output_limit = 20;
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 0);  // the rest was drained, so the child did not block or get EPIPE
  EXPECT_EQ(r.stdout_data, "line 0\nline 1\nline 2");
}

TEST(RunCommandTest, TimeoutKillsCommand) {
  const auto start = Clock::now();
  CommandRun run = MakeRun({"/bin/sleep", "30"});
  run.deadline = start + milliseconds(200);
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_LT(SecondsSince(start), 5.0);
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.cancelled);
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.Describe(), "timed out after deadline; killed by SIGTERM");
}

TEST(RunCommandTest, TimeoutKillsWholeProcessGroup) {
  // The background sleep is a grandchild: only signalling the group reaches it. The script
  // prints the leader's pid and the grandchild's pid first, well before the deadline.
  const auto start = Clock::now();
  CommandRun run = MakeRun({"/bin/sh", "-c", "sleep 30 & echo $$ $!; sleep 30; wait"});
  run.deadline = start + seconds(1);
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_LT(SecondsSince(start), 10.0);
  EXPECT_TRUE(r.timed_out);
  std::vector<pid_t> pids = ParsePids(r.stdout_data);
  ASSERT_EQ(pids.size(), 2u) << "stdout: " << r.stdout_data;
  // The leader was reaped by RunCommand itself: no zombie left behind.
  EXPECT_TRUE(kill(pids[0], 0) != 0 && errno == ESRCH) << "leader " << pids[0] << " still there";
  EXPECT_TRUE(WaitUntilGone(pids[1], kPromptly)) << "grandchild " << pids[1] << " survived";
}

TEST(RunCommandTest, EscalatesToSigkillWhenTermIsIgnored) {
  const auto start = Clock::now();
  // The ignored disposition is inherited by sleep too, so only SIGKILL ends either of them.
  CommandRun run = MakeRun({"/bin/sh", "-c", "trap '' TERM; sleep 30"});
  run.deadline = start + seconds(1);
  run.kill_grace = milliseconds(300);
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_LT(SecondsSince(start), 10.0);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(r.Describe(), "timed out after deadline; killed by SIGKILL");
}

TEST(RunCommandTest, CancelFromAnotherThread) {
  CancelToken token;
  CommandRun run = MakeRun({"/bin/sleep", "30"});
  run.cancel = &token;
  const auto start = Clock::now();
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(100));
    token.Cancel();
  });
  CommandResult r = RunCommand(run);
  canceller.join();
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_LT(SecondsSince(start), 5.0);
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_EQ(r.Describe(), "cancelled; killed by SIGTERM");
}

TEST(RunCommandTest, AlreadyCancelledTokenStopsAtOnce) {
  CancelToken token;
  token.Cancel();
  CommandRun run = MakeRun({"/bin/sleep", "30"});
  run.cancel = &token;
  const auto start = Clock::now();
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_LT(SecondsSince(start), 5.0);
  EXPECT_TRUE(r.cancelled);
}

TEST(RunCommandTest, GrandchildHoldingStdoutIsKilledAfterGrace) {
  // The leader exits at once with status 0, but the background sleep keeps stdout open:
  // without the post-exit grace we would wait 30 s for EOF.
  const auto start = Clock::now();
  CommandRun run = MakeRun({"/bin/sh", "-c", "sleep 30 & echo $!"});
  run.kill_grace = milliseconds(300);
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_LT(SecondsSince(start), 10.0);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.timed_out);
  std::vector<pid_t> pids = ParsePids(r.stdout_data);
  ASSERT_EQ(pids.size(), 1u) << "stdout: " << r.stdout_data;
  EXPECT_TRUE(WaitUntilGone(pids[0], kPromptly)) << "grandchild " << pids[0] << " survived";
}

TEST(RunCommandTest, DeadlineAppliesAfterChildClosesItsPipes) {
  // No pipe to wait on any more, yet the child runs on: the deadline must still be enforced
  // (a blocking waitpid here would hang for 30 s).
  const auto start = Clock::now();
  CommandRun run = MakeRun({"/bin/sh", "-c", "exec </dev/null >/dev/null 2>&1; sleep 30"});
  run.deadline = start + milliseconds(300);
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_LT(SecondsSince(start), 5.0);
  EXPECT_TRUE(r.timed_out);
}

TEST(RunCommandTest, DefaultDeadlineMeansNoDeadline) {
  CommandRun run;
  run.argv = {"/bin/sleep", "0.2"};
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0);
}

TEST(RunCommandTest, PathSearchSkipsWhatItCannotExecute) {
  // As execvp: a directory that does not exist, then a file that is not executable, then the
  // program. Without the program, the file that is not executable is what is reported.
  const std::string base = TempPath("path");
  const std::string first = base + "_first", second = base + "_second";
  ASSERT_EQ(mkdir(first.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(second.c_str(), 0755), 0);
  const std::string blocked = first + "/spindle-path-test", program = second + "/spindle-path-test";
  std::ofstream(blocked) << "#!/bin/sh\necho blocked\n";
  std::ofstream(program) << "#!/bin/sh\necho found\n";
  chmod(blocked.c_str(), 0644);
  chmod(program.c_str(), 0755);
  const char* old_path = std::getenv("PATH");
  const std::string saved = old_path != nullptr ? old_path : "";
  setenv("PATH", (base + "_missing:" + first + ":" + second).c_str(), 1);
  CommandResult found = RunCommand(MakeRun({"spindle-path-test"}));
  unlink(program.c_str());
  CommandResult denied = RunCommand(MakeRun({"spindle-path-test"}));
  setenv("PATH", saved.c_str(), 1);
  unlink(blocked.c_str());
  rmdir(first.c_str());
  rmdir(second.c_str());
  ASSERT_TRUE(found.started) << found.error;
  EXPECT_EQ(found.stdout_data, "found\n");
  EXPECT_FALSE(denied.started);
  EXPECT_EQ(denied.error, "cannot execute 'spindle-path-test': Permission denied");
}

TEST(RunCommandTest, NonexistentProgramIsNotStarted) {
  for (std::string name : {"spindle-no-such-program-7f3a", "/nonexistent/spindle-no-such"}) {
    CommandResult r = RunCommand(MakeRun({name, "arg"}));
    EXPECT_FALSE(r.started);
    EXPECT_NE(r.error.find(name), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("No such file or directory"), std::string::npos) << r.error;
    EXPECT_EQ(r.Describe(), r.error);
  }
}

TEST(RunCommandTest, NonExecutableFileIsNotStarted) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string path =
      std::string(tmpdir != nullptr && *tmpdir ? tmpdir : "/tmp") + "/spindle_command_test_XXXXXX";
  int fd = mkstemp(path.data());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "#!/bin/sh\n", 10), 10);
  close(fd);
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  CommandResult r = RunCommand(MakeRun({path}));
  unlink(path.c_str());
  EXPECT_FALSE(r.started);
  EXPECT_NE(r.error.find(path), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("Permission denied"), std::string::npos) << r.error;
}

TEST(RunCommandTest, EmptyArgvIsNotStarted) {
  CommandResult r = RunCommand(MakeRun({}));
  EXPECT_FALSE(r.started);
  EXPECT_FALSE(r.error.empty());
}

TEST(RunCommandTest, ArgvIsPassedVerbatim) {
  CommandResult r =
      RunCommand(MakeRun({"/bin/echo", "a b", "$HOME", "'q'", "\"dq\"", "*", "x;y", "`id`"}));
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.stdout_data, "a b $HOME 'q' \"dq\" * x;y `id`\n");
}

TEST(RunCommandTest, NoFileDescriptorLeaks) {
  RunCommand(MakeRun({"/bin/true"}));  // creates the process's lifeline, which stays
  const int before = CountOpenFds();
  ASSERT_GT(before, 0);
  RunCommand(MakeRun({"/bin/true"}));
  RunCommand(MakeRun({"/bin/sh", "-c", "echo out; echo err >&2; exit 1"}));
  RunCommand(MakeRun({"spindle-no-such-program-7f3a"}));
  CommandRun stdin_run = MakeRun({"/bin/cat"});
  stdin_run.stdin_data = Pattern(200000, 4);
  RunCommand(stdin_run);
  CommandRun timeout_run = MakeRun({"/bin/sleep", "30"});
  timeout_run.deadline = Clock::now() + milliseconds(100);
  RunCommand(timeout_run);
  EXPECT_EQ(CountOpenFds(), before);
}

TEST(RunCommandTest, ChildInheritsOnlyStdio) {
  // Our pipes are close-on-exec and stray fds are closed: the child sees exactly 0, 1, 2 (plus
  // the fd ls uses to read the directory).
  CommandResult r = RunCommand(MakeRun({"/bin/sh", "-c", "ls /proc/self/fd"}));
  ASSERT_TRUE(r.started) << r.error;
  std::vector<pid_t> fds = ParsePids(r.stdout_data);
  ASSERT_GE(fds.size(), 3u) << r.stdout_data;
  EXPECT_LE(fds.size(), 4u) << r.stdout_data;
  EXPECT_EQ(fds[0], 0);
  EXPECT_EQ(fds[1], 1);
  EXPECT_EQ(fds[2], 2);
}

TEST(RunCommandTest, ManyThreadsAtOnce) {
  constexpr int kThreads = 8;
  constexpr int kRunsPerThread = 5;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < kRunsPerThread; ++i) {
        const std::string input = Pattern(100000 + t * 1000 + i, t * 100 + i);
        CommandRun run = MakeRun({"/bin/cat"});
        run.stdin_data = input;
        run.output_limit = 1 << 20;
        CommandResult r = RunCommand(run);
        if (!r.started || r.exit_code != 0 || r.stdout_data != input) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

// --- commands never outlive the process that runs them ----------------------------------------

// True while some process of process group `pgid` is alive (not a zombie: see ProcessGone).
bool GroupAlive(pid_t pgid) {
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return kill(-pgid, 0) == 0;
  bool alive = false;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    std::ifstream stat(std::string("/proc/") + entry->d_name + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    size_t paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(line.substr(paren + 2));
    char state = 0;
    long ppid = 0, pgrp = 0;
    fields >> state >> ppid >> pgrp;
    if (pgrp == pgid && state != 'Z' && state != 'X') alive = true;
  }
  closedir(dir);
  return alive;
}

bool WaitUntilGroupGone(pid_t pgid, Clock::duration limit) {
  const auto until = Clock::now() + limit;
  while (GroupAlive(pgid)) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

// command_helper running `sh -c script FILE` in another process; the script writes the pids the
// test should watch to FILE (written whole: it renames FILE.tmp to FILE).
class HelperProcess {
 public:
  explicit HelperProcess(const std::string& script)
      : pids_file_(TempPath("pids")), output_file_(TempPath("output")) {
    unlink(pids_file_.c_str());
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_file_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> args = {COMMAND_HELPER_BIN, "/bin/sh", "-c", script, "sh",
                                     pids_file_};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    spawn_error_ = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
  }
  HelperProcess(const HelperProcess&) = delete;
  HelperProcess& operator=(const HelperProcess&) = delete;
  ~HelperProcess() {
    if (spawn_error_ == 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    // Whatever the test found, leave nothing running.
    for (pid_t pid : pids_) {
      if (pid > 0) kill(pid, SIGKILL);
    }
    if (pgid_ > 0) kill(-pgid_, SIGKILL);
    unlink(pids_file_.c_str());
    unlink(output_file_.c_str());
  }

  int spawn_error() const { return spawn_error_; }

  // Waits for the script's pids (the first is the command's own) and notes its process group.
  const std::vector<pid_t>& WaitForPids() {
    const auto until = Clock::now() + kSafetyDeadline;
    while (pids_.empty() && Clock::now() < until) {
      std::ifstream in(pids_file_);
      std::stringstream text;
      text << in.rdbuf();
      pids_ = ParsePids(text.str());
      if (pids_.empty()) std::this_thread::sleep_for(milliseconds(20));
    }
    if (!pids_.empty()) pgid_ = getpgid(pids_[0]);
    return pids_;
  }
  pid_t pgid() const { return pgid_; }

  void Kill() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    reaped_ = true;
  }

  // Waits for the helper to exit by itself; returns what it printed.
  std::string WaitForOutput() {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    std::ifstream in(output_file_);
    std::string line;
    std::getline(in, line);
    return line;
  }

 private:
  const std::string pids_file_;
  const std::string output_file_;
  pid_t pid_ = -1;
  int spawn_error_ = 0;
  bool reaped_ = false;
  std::vector<pid_t> pids_;
  pid_t pgid_ = -1;
};

constexpr seconds kOrphanBound{10};  // "well under a second" asked; generous for a busy machine

TEST(OutliveTest, CommandDiesWithTheProcessThatRunsIt) {
  HelperProcess helper("echo $$ > \"$1.tmp\"; mv \"$1.tmp\" \"$1\"; sleep 300");
  ASSERT_EQ(helper.spawn_error(), 0);
  std::vector<pid_t> pids = helper.WaitForPids();
  ASSERT_EQ(pids.size(), 1u);
  ASSERT_GT(helper.pgid(), 0);
  helper.Kill();
  EXPECT_TRUE(WaitUntilGroupGone(helper.pgid(), kOrphanBound))
      << "process group " << helper.pgid() << " outlived the process that ran it";
  EXPECT_TRUE(WaitUntilGone(pids[0], kPromptly)) << "command " << pids[0] << " survived";
}

TEST(OutliveTest, DescendantsDieWithTheProcessThatRunsTheCommand) {
  HelperProcess helper("sleep 300 & echo $$ $! > \"$1.tmp\"; mv \"$1.tmp\" \"$1\"; sleep 300");
  ASSERT_EQ(helper.spawn_error(), 0);
  std::vector<pid_t> pids = helper.WaitForPids();
  ASSERT_EQ(pids.size(), 2u);
  ASSERT_GT(helper.pgid(), 0);
  helper.Kill();
  EXPECT_TRUE(WaitUntilGroupGone(helper.pgid(), kOrphanBound))
      << "process group " << helper.pgid() << " outlived the process that ran it";
  for (pid_t pid : pids) EXPECT_TRUE(WaitUntilGone(pid, kPromptly)) << pid << " survived";
}

TEST(OutliveTest, DescendantInItsOwnSessionDiesTooOnceOrphaned) {
  // setsid takes the background sleep out of the command's process group; it is still a
  // descendant, and once its parent is killed it is orphaned into the supervisor, which kills it.
  HelperProcess helper(
      "setsid sleep 300 & echo $$ $! > \"$1.tmp\"; mv \"$1.tmp\" \"$1\"; sleep 300");
  ASSERT_EQ(helper.spawn_error(), 0);
  std::vector<pid_t> pids = helper.WaitForPids();
  ASSERT_EQ(pids.size(), 2u);
  helper.Kill();
  for (pid_t pid : pids) EXPECT_TRUE(WaitUntilGone(pid, kOrphanBound)) << pid << " survived";
}

TEST(OutliveTest, CommandOutlivesTheThreadThatStartedTheFirstOne) {
  // The helper ran its first command on a thread that has exited since: that must not matter.
  HelperProcess helper("sleep 0.2; exit 7");
  ASSERT_EQ(helper.spawn_error(), 0);
  EXPECT_EQ(helper.WaitForOutput(), "exited with status 7");
}

TEST(OutliveTest, CommandOutlivesAnotherThreadThatRanOne) {
  // Thread `first` runs a command and exits while thread `second`'s command still runs; the
  // second must go on and be reported as usual, not killed with the first thread.
  const std::string flag = TempPath("flag");
  unlink(flag.c_str());
  CommandResult second_result;
  std::atomic<bool> second_done{false};
  std::thread second([&] {
    second_result = RunCommand(MakeRun(
        {"/bin/sh", "-c", "while [ ! -e \"$1\" ]; do sleep 0.01; done; exit 7", "sh", flag}));
    second_done = true;
  });
  CommandResult first_result;
  std::thread first([&] { first_result = RunCommand(MakeRun({"/bin/sh", "-c", "exit 3"})); });
  first.join();
  EXPECT_EQ(first_result.exit_code, 3);
  std::this_thread::sleep_for(milliseconds(200));  // time for anything tied to `first` to act
  EXPECT_FALSE(second_done);
  std::ofstream(flag).put('x');
  second.join();
  unlink(flag.c_str());
  ASSERT_TRUE(second_result.started) << second_result.error;
  EXPECT_EQ(second_result.Describe(), "exited with status 7");
}

TEST(RunCommandTest, KillAllCommandGroupsKillsRunningCommands) {
  // Two commands on two threads, each with a background child; both report their start.
  constexpr int kCommands = 2;
  std::atomic<int> ready{0};
  std::vector<CommandResult> results(kCommands);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCommands; ++i) {
    threads.emplace_back([&, i] {
      CommandRun run = MakeRun({"/bin/sh", "-c", "sleep 300 & echo $!; sleep 300"});
      run.on_stdout_line = [&](std::string_view) {
        ++ready;
        return false;
      };
      results[i] = RunCommand(run);
    });
  }
  const auto until = Clock::now() + kSafetyDeadline;
  while (ready < kCommands && Clock::now() < until) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_EQ(ready, kCommands);
  const auto start = Clock::now();
  KillAllCommandGroups();
  for (std::thread& thread : threads) thread.join();
  EXPECT_LT(SecondsSince(start), 10.0);
  for (const CommandResult& r : results) {
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.Describe(), "killed by signal 9 (SIGKILL)");
    std::vector<pid_t> pids = ParsePids(r.stdout_data);
    ASSERT_EQ(pids.size(), 1u) << r.stdout_data;
    EXPECT_TRUE(WaitUntilGone(pids[0], kPromptly)) << "background child " << pids[0];
  }
  KillAllCommandGroups();  // none left: a no-op
}

TEST(RunCommandTest, LeftoverNotHoldingPipesIsKilledAfterGrace) {
  // The background sleep holds none of the command's pipes, so EOF says nothing about it; it
  // still gets the grace period and is then killed, and RunCommand does not return before.
  const auto start = Clock::now();
  CommandRun run = MakeRun({"/bin/sh", "-c", "sleep 300 </dev/null >/dev/null 2>&1 & echo $!"});
  run.kill_grace = milliseconds(300);
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_LT(SecondsSince(start), 10.0);
  EXPECT_EQ(r.exit_code, 0);
  std::vector<pid_t> pids = ParsePids(r.stdout_data);
  ASSERT_EQ(pids.size(), 1u) << "stdout: " << r.stdout_data;
  if (!WaitUntilGone(pids[0], kPromptly)) {
    ADD_FAILURE() << "leftover " << pids[0] << " still running";
    kill(pids[0], SIGKILL);
  }
}

TEST(RunCommandTest, ErrorEndsWithTheLastWordsOfAHugeStderr) {
  // As the worker runs commands: a large output limit for protocol lines. The error message is
  // stored cut to 16 KiB (CleanText), so Describe() must be short and end with the last line.
  for (const char* filler : {"x", "\\377"}) {  // \377: invalid UTF-8, replaced by 3 bytes each
    CommandRun run = MakeRun(
        {"/bin/sh", "-c",
         std::string("head -c 1048576 /dev/zero | tr '\\000' '") + filler +
             "' >&2; echo 'FATAL: the end' >&2; exit 1"});
    run.output_limit = 8 << 20;
    CommandResult r = RunCommand(run);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.exit_code, 1);
    const std::string described = r.Describe();
    EXPECT_LT(described.size(), 16u * 1024) << filler;
    EXPECT_TRUE(described.ends_with("FATAL: the end")) << described.substr(described.size() - 40);
    EXPECT_TRUE(described.starts_with("exited with status 1; stderr: ")) << filler;
    const std::string stored = core::CleanText(described);
    EXPECT_TRUE(stored.ends_with("FATAL: the end")) << filler;
  }
}

// Runs `script` with a line callback that records every line and consumes those `consume`
// accepts; returns the result, the lines in `lines`.
CommandResult RunWithLines(const std::string& script, std::vector<std::string>* lines,
                           bool (*consume)(std::string_view), size_t output_limit = 64 * 1024) {
  CommandRun run = MakeRun({"/bin/sh", "-c", script});
  run.output_limit = output_limit;
  run.on_stdout_line = [lines, consume](std::string_view line) {
    lines->emplace_back(line);
    return consume(line);
  };
  return RunCommand(run);
}

bool ConsumeAll(std::string_view) { return true; }
bool ConsumeNone(std::string_view) { return false; }

TEST(StdoutLineTest, LinesArriveWhileChildRuns) {
  // The child prints a line, then sleeps until killed: only a callback that sees the line while
  // the child runs can cancel it. (Too late, the safety deadline would report timed_out.)
  CancelToken token;
  CommandRun run = MakeRun({"/bin/sh", "-c", "echo ready; sleep 30"});
  run.cancel = &token;
  std::vector<std::string> lines;
  std::thread::id callback_thread;
  run.on_stdout_line = [&](std::string_view line) {
    lines.emplace_back(line);
    callback_thread = std::this_thread::get_id();
    token.Cancel();
    return true;
  };
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(lines, std::vector<std::string>{"ready"});
  EXPECT_EQ(callback_thread, std::this_thread::get_id());
  EXPECT_EQ(r.stdout_data, "");
}

TEST(StdoutLineTest, ChildWaitsForCallback) {
  // A handshake in both directions: the child goes on only once the callback has run.
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string flag = std::string(tmpdir != nullptr && *tmpdir ? tmpdir : "/tmp") +
                           "/spindle_command_test_flag_" + std::to_string(getpid());
  unlink(flag.c_str());
  CommandRun run =
      MakeRun({"/bin/sh", "-c",
               "echo waiting; while [ ! -e \"$1\" ]; do sleep 0.01; done; echo done", "sh", flag});
  std::vector<std::string> lines;
  run.on_stdout_line = [&](std::string_view line) {
    lines.emplace_back(line);
    if (line == "waiting") std::ofstream(flag).put('x');
    return false;
  };
  CommandResult r = RunCommand(run);
  unlink(flag.c_str());
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(lines, (std::vector<std::string>{"waiting", "done"}));
  EXPECT_EQ(r.stdout_data, "waiting\ndone\n");
}

TEST(StdoutLineTest, LastUnterminatedLineIsDelivered) {
  std::vector<std::string> lines;
  CommandResult r = RunWithLines("printf 'one\\r\\n\\ntwo'", &lines, ConsumeNone);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(lines, (std::vector<std::string>{"one\r", "", "two"}));
  EXPECT_EQ(r.stdout_data, "one\r\n\ntwo");  // unconsumed: same bytes as without the callback

  lines.clear();
  r = RunWithLines("printf 'one\\ntwo'", &lines, ConsumeAll);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(r.stdout_data, "");

  lines.clear();
  r = RunWithLines("true", &lines, ConsumeAll);
  EXPECT_TRUE(lines.empty());
}

TEST(StdoutLineTest, OnlyUnconsumedLinesAreKept) {
  std::vector<std::string> lines;
  CommandResult r = RunWithLines("printf 'keep 1\\ndrop 1\\nkeep 2\\ndrop 2\\n\\nkeep 3'", &lines,
                                 [](std::string_view line) { return line.starts_with("drop"); });
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(lines,
            (std::vector<std::string>{"keep 1", "drop 1", "keep 2", "drop 2", "", "keep 3"}));
  EXPECT_EQ(r.stdout_data, "keep 1\nkeep 2\n\nkeep 3");
}

TEST(StdoutLineTest, UnconsumedLinesRespectOutputLimit) {
  // All lines still reach the callback once stdout_data is full.
  std::vector<std::string> lines;
  CommandResult r = RunWithLines(
      "i=0; while [ $i -lt 2000 ]; do echo \"line $i\"; i=$((i+1)); done", &lines, ConsumeNone,
      /*output_limit=*/20);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_data, "line 0\nline 1\nline 2");
  ASSERT_EQ(lines.size(), 2000u);
  EXPECT_EQ(lines.back(), "line 1999");
}

TEST(StdoutLineTest, LineSplitAcrossWritesIsDeliveredOnce) {
  std::vector<std::string> lines;
  CommandResult r = RunWithLines(
      "printf 'ab'; sleep 0.05; printf 'c\\n'; printf 'd'; sleep 0.05; printf 'e'; sleep 0.05; "
      "printf 'f\\ng'",
      &lines, ConsumeAll);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(lines, (std::vector<std::string>{"abc", "def", "g"}));
  EXPECT_EQ(r.stdout_data, "");
}

TEST(StdoutLineTest, OverlongLineIsKeptTruncatedNotDelivered) {
  // Limit 10: a line of exactly 10 bytes is delivered, longer ones are kept as output (first
  // bytes), also when split across writes or unterminated at the end.
  std::vector<std::string> lines;
  CommandResult r = RunWithLines(
      "printf 'short\\n0123456789\\n0123'; sleep 0.05; printf "
      "'456789ABCDEF\\nafter\\nXXXXXXXXXXXX'",
      &lines, ConsumeAll, /*output_limit=*/10);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(lines, (std::vector<std::string>{"short", "0123456789", "after"}));
  EXPECT_EQ(r.stdout_data, "0123456789");

  // Unterminated overlong last line, after unconsumed output.
  lines.clear();
  r = RunWithLines("printf 'ab\\ncdefghijklmnop'", &lines, ConsumeNone, /*output_limit=*/10);
  EXPECT_EQ(lines, std::vector<std::string>{"ab"});
  EXPECT_EQ(r.stdout_data, "ab\ncdefghi");  // first 10 bytes
}

TEST(StdoutLineTest, LargeOutputDoesNotDeadlock) {
  // About 1.3 MB echoed back by cat while we still write stdin.
  std::string input;
  constexpr int kLines = 100000;
  for (int i = 0; i < kLines; ++i) input += "line number " + std::to_string(i) + "\n";
  CommandRun run = MakeRun({"/bin/cat"});
  run.stdin_data = input;
  int count = 0;
  bool in_order = true;
  run.on_stdout_line = [&](std::string_view line) {
    in_order = in_order && line == "line number " + std::to_string(count);
    return ++count % 1000 != 0;  // keep every thousandth line
  };
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(count, kLines);
  EXPECT_TRUE(in_order);
  std::string expected;
  for (int i = 999; i < kLines; i += 1000) expected += "line number " + std::to_string(i) + "\n";
  EXPECT_EQ(r.stdout_data, expected);
}

TEST(CommandResultTest, Describe) {
  CommandResult r;
  r.started = true;
  r.signal = SIGKILL;
  EXPECT_EQ(r.Describe(), "killed by signal 9 (SIGKILL)");
  r.signal = 0;
  r.exit_code = 1;
  r.stderr_tail = "line one\nlast words \n\t\n";
  EXPECT_EQ(r.Describe(), "exited with status 1; stderr: line one\nlast words");
  r.stderr_tail = " \n";
  EXPECT_EQ(r.Describe(), "exited with status 1");
  CommandResult failed;
  failed.error = "cannot execute 'foo': No such file or directory";
  EXPECT_EQ(failed.Describe(), failed.error);
}

// --- the protocol lines a command writes (docs/jobs.md) --------------------------------------

TEST(CommandLineTest, ParsesEachInstruction) {
  auto cp = ParseCommandLine(R"({"next": "copy", "checkpoint": {"rows": 10}})");
  ASSERT_TRUE(cp);
  EXPECT_EQ(cp->next, "copy");
  EXPECT_EQ(cp->checkpoint, (Json{{"rows", 10}}));
  EXPECT_FALSE(cp->AtExit());

  auto progress = ParseCommandLine(R"(  {"progress": 1.5, "message": "done"})");
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->progress, (Json{{"fraction", 1.0}, {"message", "done"}})) << "clamped";

  auto nap = ParseCommandLine(R"({"nap": "1m30s", "checkpoint": null})");
  ASSERT_TRUE(nap);
  EXPECT_EQ(nap->nap, Millis(90000));
  EXPECT_EQ(nap->checkpoint, Json(nullptr)) << "a null checkpoint is a checkpoint";
  EXPECT_TRUE(nap->AtExit());
  EXPECT_EQ(ParseCommandLine(R"({"nap": 250})")->nap, Millis(250));

  auto children = ParseCommandLine(
      R"({"enqueue": [{"kind": "a"}, {"kind": "b", "args": {"x": 1}, "queue": "q", "priority": 2,
                      "max_attempts": 3, "timeout": "10s"}], "next": "join"})");
  ASSERT_TRUE(children);
  ASSERT_EQ(children->enqueue.size(), 2u);
  EXPECT_EQ(children->enqueue[1].queue, "q");
  EXPECT_EQ(children->enqueue[1].timeout, Millis(10000));
  EXPECT_TRUE(children->AtExit());

  EXPECT_EQ(ParseCommandLine(R"({"result": [1, 2]})")->result, (Json{1, 2}));

  auto end = ParseCommandLine(R"({"status": 3, "error": "no such row", "result": 1})");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, 3);
  EXPECT_EQ(end->error, "no such row");
  EXPECT_EQ(ParseCommandLine(R"({"status": 0})")->status, 0);
}

TEST(CommandLineTest, SaysWhyAJsonObjectIsNotObeyed) {
  auto why = [](std::string_view line) {
    std::string reason;
    EXPECT_FALSE(ParseCommandLine(line, &reason)) << line;
    return reason;
  };
  EXPECT_EQ(why(R"({"progres": 0.5})"), "unknown key 'progres'");
  EXPECT_EQ(why(R"({"next": 7})"), "'next' must be a step's name, got 7");
  EXPECT_EQ(why(R"({"enqueue": [{"kind": "a", "colour": 1}]})"), "an invalid child in 'enqueue'");
  EXPECT_EQ(why(R"({"message": "no progress"})"), "'message' without 'progress'");
  EXPECT_EQ(why(R"({"error": "no status"})"), "'error' without 'status'");
  EXPECT_EQ(why(R"({"status": 256})"), "'status' must be a whole number from 0 to 255, got 256");
  EXPECT_EQ(why(R"({"status": "0"})"), "'status' must be a whole number from 0 to 255, got \"0\"");
  EXPECT_EQ(why(R"({"status": 0, "error": "x"})"),
            "'error' with status 0 (a job that failed ends with status 1 to 255)");
  EXPECT_NE(why(R"({"nap": "soon"})").find("soon"), std::string::npos);
  // Output that is not a JSON object is simply output.
  for (const char* line : {"plain text", "[1]", "{not json", "{}"}) EXPECT_EQ(why(line), "");
}

TEST(StdoutLineTest, OverlongLinesAreToldWithTheirLength) {
  std::vector<size_t> sizes;
  CommandRun run = MakeRun(
      {"/bin/sh", "-c", "printf '0123456789ABC\\nok\\n0123'; sleep 0.05; printf '456789XY'"});
  run.output_limit = 10;
  run.on_stdout_line = [](std::string_view) { return true; };
  run.on_overlong_line = [&](size_t bytes) { sizes.push_back(bytes); };
  CommandResult r = RunCommand(run);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(sizes, (std::vector<size_t>{13, 12})) << "the second one unterminated, in two writes";
}

TEST(CommandLineTest, AnythingElseIsOutput) {
  for (const char* line : {
           "", "plain text", "[1]", "{}", "{not json", R"("checkpoint")",
           R"({"checkpoint": 1, "extra": 2})",        // unknown key
           R"({"next": 7})", R"({"next": ""})",        // wrong type, empty step
           R"({"progress": "half"})", R"({"message": "no progress"})",
           R"({"nap": "soon"})", R"({"nap": -1})", R"({"nap": 1e3})",
           R"({"nap": 10000000000000000})",            // beyond 100 years
           R"({"enqueue": []})", R"({"enqueue": [{"args": {}}]})",  // no child, child without kind
           R"({"enqueue": [{"kind": "a", "args": [1]}]})",          // args not an object
           R"({"enqueue": [{"kind": "a", "max_attempts": 0}]})",    // invalid child
           R"({"enqueue": [{"kind": "a", "priority": 4294967296}]})",  // not an int
       }) {
    EXPECT_FALSE(ParseCommandLine(line)) << line;
  }
}

}  // namespace
}  // namespace spindle::runtime

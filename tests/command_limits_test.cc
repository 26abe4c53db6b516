// Commands under control (docs/jobs.md): a kind's nice level, rlimits, working directory and
// environment allow-list, seen from inside real commands run by real workers on both backends,
// through the C++ options and through `spindle serve` with a TOML file; and the configuration's
// refusals.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "runtime/command.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::ReadFile;
using testing::Cli;
using testing::Quote;
using testing::TestBackend;
using testing::WaitUntil;

// The lines of `env` output as a set of "NAME=value".
std::set<std::string> Lines(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.insert(line);
  return out;
}

bool HasName(const std::set<std::string>& env, const std::string& name) {
  for (const auto& line : env) {
    if (line.rfind(name + "=", 0) == 0) return true;
  }
  return false;
}

// Sets a variable in this process for one test and restores it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

class CommandLimitsTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    client_ = Client::Open({db_->url()});
    dir_ = ::testing::TempDir() + "spindle_limits_" + std::to_string(getpid()) + "_" +
           testing::Name(GetParam());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  WorkerOptions Options() {
    WorkerOptions o;
    o.database_url = db_->url();
    o.queues = {QueueOptions{"default", 4}};
    o.shutdown_grace = 5s;
    return o;
  }
  // Waits for the job to end; returns it.
  Job Finished(const std::string& id) { return testing::WaitFinished(*client_, id); }
  static std::string LastError(const Job& job) {
    return job.errors.empty() ? "" : job.errors.back().message;
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::unique_ptr<Client> client_;
  std::string dir_;
};

TEST_P(CommandLimitsTest, ACommandOverItsCpuLimitFailsSayingSo) {
  Worker w(Options());
  CommandOptions spin{.argv = {"/bin/sh", "-c", "cat >/dev/null; while :; do :; done"}};
  spin.rlimits.cpu = 1s;
  w.RegisterCommand("spin", spin);
  w.Start();
  Job job = Finished(client_->Enqueue({.kind = "spin", .max_attempts = 1}));
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(LastError(job), "exceeded its CPU limit of 1 s (SIGXCPU)");
}

TEST_P(CommandLimitsTest, NiceLimitsAndCwdAreTheCommands) {
  const std::string out = dir_ + "/seen";
  const std::string cwd = dir_ + "/work dir";
  std::filesystem::create_directories(cwd);
  const int own_nice = getpriority(PRIO_PROCESS, 0);
  Worker w(Options());
  CommandOptions look{.argv = {"/bin/sh", "-c",
                               "cat >/dev/null; { nice; ulimit -n; ulimit -Hn; ulimit -v; "
                               "ulimit -t; ulimit -Ht; pwd; } > \"$1\"",
                               "sh", out}};
  look.nice = 19;
  look.rlimits = {.cpu = 7s, .memory = uint64_t{512} << 20, .files = 100};
  look.cwd = cwd;
  w.RegisterCommand("look", look);
  w.Start();
  Job job = Finished(client_->Enqueue({.kind = "look", .max_attempts = 1}));
  ASSERT_EQ(job.state, JobState::kCompleted) << LastError(job);
  // The hard limits too, so that the command cannot raise them; CPU's a second later (SIGKILL).
  EXPECT_EQ(ReadFile(out), "19\n100\n100\n524288\n7\n8\n" + cwd + "\n");
  // The worker's own are untouched.
  EXPECT_EQ(getpriority(PRIO_PROCESS, 0), own_nice);
}

TEST_P(CommandLimitsTest, ADirectoryGoneFailsTheAttemptNotTheWorker) {
  const std::string cwd = dir_ + "/gone";
  std::filesystem::create_directories(cwd);
  Worker w(Options());
  w.RegisterCommand("there", {.argv = {"/bin/sh", "-c", "cat >/dev/null"}, .cwd = cwd});
  w.RegisterCommand("plain", {.argv = {"/bin/sh", "-c", "cat >/dev/null"}});
  w.Start();
  std::filesystem::remove(cwd);
  Job job = Finished(client_->Enqueue({.kind = "there", .max_attempts = 1}));
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(LastError(job),
            "cannot run '/bin/sh' in directory '" + cwd + "': No such file or directory");
  EXPECT_EQ(Finished(client_->Enqueue({.kind = "plain"})).state, JobState::kCompleted);
}

TEST_P(CommandLimitsTest, RegisteringRefusesBadControls) {
  Worker w(Options());
  auto refused = [&](CommandOptions c, const std::string& why) {
    c.argv = {"/bin/true"};
    try {
      w.RegisterCommand("k", c);
      ADD_FAILURE() << "accepted; wanted: " << why;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  refused({.nice = -1}, "nice must be between 0 and 19, got -1");
  refused({.cwd = dir_ + "/missing"}, "cwd '" + dir_ + "/missing': No such file or directory");
  refused({.env_allow = std::vector<std::string>{"A*B"}}, "env_allow entry 'A*B'");
}

// The worker's secrets stay with it: only the allowed names pass, plus the kind's own env.
TEST_P(CommandLimitsTest, TheEnvironmentIsAnAllowList) {
  ScopedEnv secret("SECRET_TOKEN", "s3cret");
  ScopedEnv database("SPINDLE_DATABASE", "postgresql://user:password@db/app");
  ScopedEnv password("PGPASSWORD", "hunter2");
  ScopedEnv home("HOME", "/home/worker");
  ScopedEnv locale("LC_TIME", "C");
  const std::string plain_out = dir_ + "/plain", allowed_out = dir_ + "/allowed";
  const char* dump = "cat >/dev/null; env > \"$1\"";  // `env` found in the default PATH
  Worker w(Options());
  w.RegisterCommand("plain", {.argv = {"/bin/sh", "-c", dump, "sh", plain_out},
                              .env = {{"GREETING", "hello world"}, {"HOME", "/srv/app"}}});
  w.RegisterCommand("allowed", {.argv = {"/bin/sh", "-c", dump, "sh", allowed_out},
                                .env_allow = std::vector<std::string>{"PATH", "SECRET_*"}});
  w.Start();
  ASSERT_EQ(Finished(client_->Enqueue({.kind = "plain"})).state, JobState::kCompleted);
  ASSERT_EQ(Finished(client_->Enqueue({.kind = "allowed"})).state, JobState::kCompleted);

  auto plain = Lines(ReadFile(plain_out));
  EXPECT_FALSE(HasName(plain, "SECRET_TOKEN"));
  EXPECT_FALSE(HasName(plain, "SPINDLE_DATABASE"));
  EXPECT_FALSE(HasName(plain, "PGPASSWORD"));
  EXPECT_TRUE(plain.count("GREETING=hello world"));
  EXPECT_TRUE(plain.count("HOME=/srv/app")) << "the kind's env wins";
  EXPECT_TRUE(plain.count("LC_TIME=C")) << "LC_* passes by default";
  EXPECT_TRUE(plain.count(std::string("PATH=") + getenv("PATH")));

  auto allowed = Lines(ReadFile(allowed_out));
  EXPECT_TRUE(allowed.count("SECRET_TOKEN=s3cret"));
  EXPECT_FALSE(HasName(allowed, "HOME"));
  EXPECT_FALSE(HasName(allowed, "SPINDLE_DATABASE"));
}

// The same controls from a TOML file, through `spindle serve`.
TEST_P(CommandLimitsTest, ServeAppliesAKindsControlsFromTheConfiguration) {
  ScopedEnv secret("SECRET_TOKEN", "s3cret");
  const std::string out = dir_ + "/seen";
  const std::string cfg = dir_ + "/spindle.toml";
  std::ofstream(cfg) << "[worker]\nshutdown_grace = \"5s\"\n"
                     << "[kinds.look]\ncommand = [\"/bin/sh\", \"-c\", \"cat >/dev/null; "
                     << "{ nice; ulimit -n; ulimit -v; ulimit -t; pwd; env | sort; } > seen\"]\n"
                     << "nice = 5\ncwd = \"" << dir_ << "\"\n"
                     << "env_allow = [\"PATH\"]\nenv = { MODE = \"test\" }\n"
                     << "rlimits = { cpu = \"1m\", memory = \"1GiB\", files = 64 }\n"
                     << "[kinds.spin]\ncommand = [\"/bin/sh\", \"-c\", "
                     << "\"cat >/dev/null; while :; do :; done\"]\n"
                     << "rlimits = { cpu = \"1s\" }\n";
  testing::Process serve({SPINDLE_BIN, "--database", db_->url(), "--config", cfg, "serve"});
  Job look = Finished(client_->Enqueue({.kind = "look", .max_attempts = 1}));
  ASSERT_EQ(look.state, JobState::kCompleted) << LastError(look);
  EXPECT_EQ(ReadFile(out), "5\n64\n1048576\n60\n" + dir_ + "\nMODE=test\nPATH=" +
                               getenv("PATH") + "\nPWD=" + dir_ + "\n");
  Job spin = Finished(client_->Enqueue({.kind = "spin", .max_attempts = 1}));
  EXPECT_EQ(LastError(spin), "exceeded its CPU limit of 1 s (SIGXCPU)");
  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.Wait(), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, CommandLimitsTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

// A command that ignores SIGXCPU is SIGKILLed a second later, and the message says why it likely
// was. (No store involved: the runner alone.)
TEST(CommandLimitsRun, SigkillUnderACpuLimitNamesTheLimit) {
  runtime::CommandRun run{.argv = {"/bin/sh", "-c", "trap '' XCPU; while :; do :; done"}};
  run.limits.cpu = 1s;
  run.deadline = std::chrono::steady_clock::now() + 120s;
  auto r = runtime::RunCommand(run);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(r.Describe(),
            "killed by signal 9 (SIGKILL); a likely cause: its CPU limit of 1 s (SIGKILL a second "
            "past it when SIGXCPU is caught or ignored)");
}

// A failed allocation is invisible from outside; a crash under a memory limit names it.
TEST(CommandLimitsRun, ACrashUnderAMemoryLimitNamesTheLimit) {
  runtime::CommandRun run{.argv = {"/bin/sh", "-c", "kill -SEGV $$"}};
  run.limits.memory = uint64_t{256} << 20;
  auto r = runtime::RunCommand(run);
  EXPECT_EQ(r.Describe(),
            "killed by signal 11 (SIGSEGV); a likely cause: an allocation refused under its "
            "memory limit of 256 MiB");
  run.limits = {};
  EXPECT_EQ(runtime::RunCommand(run).Describe(), "killed by signal 11 (SIGSEGV)");
}

// Bad values are refused with the key named, exit 2, and nothing created.
TEST(CommandLimitsConfig, BadValuesNameTheirKey) {
  const std::string dir =
      ::testing::TempDir() + "spindle_limits_config_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const std::string db = dir + "/spindle.db";
  auto refused = [&](const std::string& toml, const std::string& message) {
    const std::string cfg = dir + "/bad.toml";
    std::ofstream(cfg) << "[kinds.k]\ncommand = [\"/bin/true\"]\n" << toml;
    auto r = Cli("--database " + Quote("sqlite:" + db) + " --config " + Quote(cfg) + " serve");
    EXPECT_EQ(r.status, 2) << toml << "\n" << r.output;
    EXPECT_NE(r.err.find(message), std::string::npos) << toml << "\n" << r.err;
    EXPECT_FALSE(std::filesystem::exists(db)) << toml;
  };
  refused("nice = -5\n", "'kinds.k.nice' must be a whole number between 0 and 19, got -5");
  refused("nice = 20\n", "'kinds.k.nice' must be a whole number between 0 and 19, got 20");
  refused("rlimits = { stack = 1 }\n", "unknown key 'kinds.k.rlimits.stack'");
  refused("rlimits = 5\n", "'kinds.k.rlimits' must be a table");
  refused("rlimits = { cpu = \"1500ms\" }\n", "'kinds.k.rlimits.cpu' must be whole seconds");
  refused("rlimits = { cpu = 30 }\n", "'kinds.k.rlimits.cpu' must be a duration such as \"30s\"");
  refused("rlimits = { memory = \"512XB\" }\n", "'kinds.k.rlimits.memory' must be a size");
  refused("rlimits = { memory = 4096 }\n", "'kinds.k.rlimits.memory' must be a size");
  refused("rlimits = { files = 0 }\n", "'kinds.k.rlimits.files' must be a whole number between 3");
  refused("env = { TOKEN = 5 }\n", "'kinds.k.env.TOKEN' must be a string, got 5");
  refused("env = [\"A=b\"]\n", "'kinds.k.env' must be a table of strings");
  refused("env_allow = \"PATH\"\n", "'kinds.k.env_allow' must be an array of strings");
  refused("env_allow = [\"*\"]\n", "'kinds.k.env_allow' entry \"*\" must be a variable name");
  refused("cwd = \"" + dir + "/missing\"\n",
          "command of kind 'k': cwd '" + dir + "/missing': No such file or directory");
  refused("cwd = \"" + dir + "/bad.toml\"\n", "cwd '" + dir + "/bad.toml' is not a directory");
  std::filesystem::remove_all(dir);
}

// `enqueue --config` reads the same file on hosts where the kind's directory need not exist.
TEST(CommandLimitsConfig, EnqueueDoesNotNeedTheCommandsDirectory) {
  const std::string dir =
      ::testing::TempDir() + "spindle_limits_enqueue_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const std::string cfg = dir + "/spindle.toml";
  std::ofstream(cfg) << "[kinds.k]\ncommand = [\"/bin/true\"]\ncwd = \"/nonexistent/spindle\"\n";
  auto r = Cli("--database " + Quote("sqlite:" + dir + "/spindle.db") + " --config " +
               Quote(cfg) + " enqueue k");
  EXPECT_EQ(r.status, 0) << r.output;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace spindle

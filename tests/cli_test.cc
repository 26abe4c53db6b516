// The spindle command line as people use it, on both backends: each test runs the real binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include <fmt/format.h>

#include "store/store.h"
#include "spindle/version.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::Cli;
using testing::Quote;
using testing::TestBackend;

class CliTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override { client_ = Client::Open({db_->url()}); }
  // `spindle --database URL ARGS`.
  testing::CliResult Run(const std::string& args, const std::string& input = "") {
    return Cli("--database " + Quote(db_->url()) + " " + args, input);
  }
  // A file of this test alone: tests of both backends run in parallel.
  std::string TempFile(const std::string& name) {
    return ::testing::TempDir() + "spindle_cli_" + std::to_string(getpid()) + "_" +
           testing::Name(GetParam()) + "_" + name;
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::unique_ptr<Client> client_;
};

TEST_P(CliTest, EnqueuePrintsTheNewJobsId) {
  auto r = Run("enqueue mail --args '{\"to\":\"x@y\"}'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(client_->Get(r.out.substr(0, 36)).kind, "mail");
}

// Misuse reads like every other error: "error: ..." (JSON under --json), exit 2, bounds in words,
// and an unknown command is named with the one meant.
TEST_P(CliTest, MisuseIsReportedInSpindlesFormat) {
  auto r = Run("job list");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(r.err.rfind("error: unknown command 'job' (did you mean 'jobs'?)", 0), 0u) << r.err;
  r = Run("jobs lst --json");
  EXPECT_EQ(r.status, 2) << r.output;
  Json e = Json::parse(r.err);
  EXPECT_EQ(e["error"], "invalid_argument");
  EXPECT_NE(e["reason"].get<std::string>().find("did you mean 'jobs list'?"), std::string::npos);
  r = Run("enqueue k --max-attempts 0");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind("error: --max-attempts must be at least 1, got '0'", 0), 0u) << r.err;
  r = Run("enqueue k --max-attempts 3000000000 --json");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(Json::parse(r.err)["reason"], "--max-attempts must be at most 2147483647, got '3000000000'");
  r = Run("enqueue --json");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(Json::parse(r.err)["error"], "invalid_argument");
  // Misspelt options are named with the one meant; an empty value is never "no filter".
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {"--databse x jobs list", "unknown option '--databse' (did you mean '--database'?)"},
           {"jobs list --stat failed", "unknown option '--stat' for 'jobs list' (did you mean '--state'?)"},
           {"jobs cancel --queue default --kind '' --yes", "--kind needs a value, got ''"},
           {"enqueue k --delay ''", "--delay needs a value, got ''"},
           {"enqueue k --batch-size 5", "--batch-size requires --batch"},
           {"enqueue k --args @/tmp", "--args @/tmp: '/tmp' is a directory, not a JSON file"},
           {"enqueue k --args '{x'", "--args is not valid JSON: parse error at line 1"}}) {
    r = Cli(args.rfind("--databse", 0) == 0 ? args : "--database " + Quote(db_->url()) + " " + args);
    EXPECT_EQ(r.status, 2) << args << r.output;
    EXPECT_EQ(r.err.rfind("error: " + message, 0), 0u) << args << "\n" << r.err;
  }
  r = Cli("--database /tmp/spindle.db jobs list");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.err.find("for a SQLite file write sqlite:/tmp/spindle.db"), std::string::npos) << r.err;
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM {jobs}"), 0);
}

TEST_P(CliTest, VersionNamesTheSchemaItKnows) {
  // project()'s version (spindle/version.h), then the schema's.
  std::string expected =
      fmt::format("spindle {} (schema version {})", SPINDLE_VERSION, LatestSchemaVersion());
  for (const char* args : {"--version", "version"}) {
    auto r = Cli(args);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.out.rfind(expected, 0), 0u) << r.out;
  }
  auto r = Cli("version --json");
  EXPECT_EQ(Json::parse(r.out)["version"], SPINDLE_VERSION);
  EXPECT_EQ(Json::parse(r.out)["schema_version"], LatestSchemaVersion());
}

TEST_P(CliTest, ArgsComeFromAFileOrStdin) {
  std::string file = TempFile("args.json");
  std::ofstream(file) << "{\"from\": \"file\"}\n";
  auto r = Run("enqueue k --args @" + Quote(file));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(client_->Get(r.out.substr(0, 36)).args["from"], "file");
  r = Run("enqueue k --args -", "{\"from\": \"stdin\"}");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(client_->Get(r.out.substr(0, 36)).args["from"], "stdin");
  r = Run("enqueue k --args @" + Quote(file + ".missing"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot read"), std::string::npos) << r.err;
  r = Run("enqueue k --args -", "{oops");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--args from stdin is not valid JSON"), std::string::npos) << r.err;
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM {jobs}"), 2);
}

// --batch: one job per line, args or a whole spec, in transactions of --batch-size; a bad line
// anywhere changes nothing.
TEST_P(CliTest, BatchEnqueueReadsOneJobPerLine) {
  std::string input;
  for (int i = 0; i < 2500; ++i) input += fmt::format("{{\"n\": {}}}\n", i);
  input += "\n{\"args\": {\"n\": -1}, \"queue\": \"special\", \"priority\": 7, \"kind\": \"other\", "
           "\"run_at\": \"2030-01-01T00:00:00+02:00\", \"timeout\": \"30s\"}\n";
  auto r = Run("enqueue k --batch --batch-size 1000 --queue bulk", input);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.out.rfind("enqueued 2501 jobs in ", 0), 0u) << r.out;
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM {jobs} WHERE kind = 'k' AND queue = 'bulk'"), 2500);
  auto special = client_->List({.queue = "special"});
  ASSERT_EQ(special.size(), 1u);
  EXPECT_EQ(special[0].kind, "other");
  EXPECT_EQ(special[0].priority, 7);
  EXPECT_EQ(special[0].timeout, Millis(30000));
  EXPECT_EQ(special[0].state, JobState::kScheduled);

  for (std::string bad : {"{\"n\": 1}\n{\"args\": {}, \"queu\": \"x\"}\n", "{\"n\": 1}\n[1]\n",
                          "{\"n\": 1}\n{\"args\": {}, \"priority\": 1e10}\n", "{\"n\": 1}\n{bad\n"}) {
    r = Run("enqueue k --batch --json", bad);
    EXPECT_EQ(r.status, 2) << bad << r.output;
    EXPECT_NE(Json::parse(r.err)["reason"].get<std::string>().find("line 2: "), std::string::npos)
        << r.err;
  }
  r = Run("enqueue k --batch --args '{}'", "{}\n");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM {jobs}"), 2501);
}

TEST_P(CliTest, BlankNamesAreRefusedAndIdsReadInAnyCase) {
  for (const char* args : {"enqueue ''", "enqueue '   '", "enqueue k --queue ' '",
                           "enqueue \"$(printf 'a\\tb')\""}) {
    auto r = Cli(std::string("--database ") + Quote(db_->url()) + " " + args);
    EXPECT_EQ(r.status, 2) << args << r.output;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  }
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM {jobs}"), 0);
  std::string id = client_->Enqueue({.kind = "k"});
  std::string upper = id;
  for (char& c : upper) c = static_cast<char>(toupper(c));
  auto r = Run("jobs show " + upper + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Json::parse(r.out)["id"], id);
  r = Run("jobs cancel " + upper);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(client_->Get(id).state, JobState::kCancelled);
}

TEST_P(CliTest, AConfigurationThatIsADirectoryIsAnError) {
  auto r = Run("--config " + Quote(::testing::TempDir()) + " jobs list");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
}

// Machine-readable times are RFC 3339 in UTC with milliseconds; people's say their zone.
TEST_P(CliTest, TimesHaveOneFormat) {
  std::regex machine(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  std::string id = client_->Enqueue({.kind = "k"});
  client_->PauseQueue("default");
  client_->StopCluster("test");
  Json job = Json::parse(Run("jobs show " + id + " --json").out);
  EXPECT_TRUE(std::regex_match(job["created_at"].get<std::string>(), machine)) << job;
  EXPECT_TRUE(std::regex_match(job["run_at"].get<std::string>(), machine)) << job;
  EXPECT_TRUE(std::regex_match(job["history"][0]["at"].get<std::string>(), machine)) << job;
  Json cluster = Json::parse(Run("cluster status --json").out);
  EXPECT_TRUE(std::regex_match(cluster["stopped_at"].get<std::string>(), machine)) << cluster;
  std::string queues = Run("queues list --json").out;
  std::smatch m;
  EXPECT_TRUE(std::regex_search(queues, m, std::regex(R"re("paused_at":"([^"]*)")re")) &&
              std::regex_match(m[1].str(), machine))
      << queues;
  std::string human = Run("jobs show " + id).out;
  EXPECT_TRUE(std::regex_search(human, std::regex(R"(created_at: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << human;
}

// jobs show gives an error's last lines, without the blank lines of a trailing newline; --full
// and --json give all of it.
TEST_P(CliTest, LongErrorsShowTheirLastLines) {
  std::string message;
  for (int i = 1; i <= 12; ++i) message += fmt::format("trace line {}\n", i);
  message += "\n\n";
  WorkerOptions o;
  o.database_url = db_->url();
  o.queues = {QueueOptions{"default", 1}};
  Worker worker(o);
  worker.Register("fails", [&](JobContext&) { return JobResult::Discard(message); });
  std::string id = client_->Enqueue({.kind = "fails"});
  worker.Start();
  ASSERT_TRUE(testing::WaitUntil([&] { return client_->Get(id).state == JobState::kFailed; }));
  worker.Stop();
  auto r = Run("jobs show " + id);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.out.find("7 earlier line(s); --full shows them"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("trace line 7\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    trace line 12\nhistory:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("failed      trace line 1 ...\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\n\n"), std::string::npos) << r.out;
  r = Run("jobs show --full " + id);
  EXPECT_NE(r.out.find("    trace line 1\n"), std::string::npos) << r.out;
  Json j = Json::parse(Run("jobs show --json " + id).out);
  EXPECT_NE(j["errors"][0]["error"].get<std::string>().find("trace line 1\n"), std::string::npos);
}

TEST_P(CliTest, BenchRefusesUnknownPhasesAndTheDefaultDatabase) {
  auto r = Run("bench --phases seq,wrk --n-seq 1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.err.find("unknown bench phase 'wrk'"), std::string::npos) << r.err;
  // The environment's values have the options' ranges.
  r = testing::RunCommand(std::string("env SPINDLE_LIMIT=1000001 ") + SPINDLE_BIN,
                          "--database " + Quote(db_->url()) + " bench --phases seq --n-seq 1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.err.find("SPINDLE_LIMIT must be"), std::string::npos) << r.err;
  std::string dir = TempFile("benchdir");
  std::filesystem::create_directories(dir);
  r = testing::RunCommand("env -C " + Quote(dir) + " -u SPINDLE_DATABASE -u SPINDLE_CONFIG " +
                              SPINDLE_BIN,
                          "bench --phases seq --n-seq 1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.err.find("--use-default-database"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/spindle.db"));
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM {jobs}"), 0);
}

TEST_P(CliTest, BenchRemovesTheJobsItMade) {
  std::string mine = client_->Enqueue({.kind = "k"});
  // SPINDLE_LIMIT=0, as --limit 0: no limit.
  auto r = testing::RunCommand(std::string("env SPINDLE_LIMIT=0 ") + SPINDLE_BIN,
                               "--database " + Quote(db_->url()) +
                                   " bench --n 300 --n-seq 20 --batch 100 --lat-n 10 "
                                   "--lat-rate 100 --concurrency 4");
  ASSERT_EQ(r.status, 0) << r.output;
  Json out = Json::parse(r.out);
  EXPECT_EQ(out["removed_jobs"], 330) << out;
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM {jobs}"), 1);  // the job that was there before
  EXPECT_EQ(client_->Get(mine).state, JobState::kAvailable);
}

// Inspecting and steering never create a database file; a command that creates one says so.
TEST(CliDatabaseFileTest, OnlyWritingCommandsCreateADatabaseAndTheySaySo) {
  std::string dir = ::testing::TempDir() + "spindle_cli_newdb_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string db = "--database sqlite:" + Quote(dir + "/new.db") + " ";
  for (const char* args : {"jobs list", "jobs show 01900000-0000-7000-8000-000000000000",
                           "queues list", "workers list", "cluster status", "queues pause q"}) {
    auto r = Cli(db + args);
    EXPECT_EQ(r.status, 3) << args << r.output;
    EXPECT_NE(r.err.find("no database at"), std::string::npos) << args << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir + "/new.db")) << args;
  }
  auto r = Cli(db + "enqueue k");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.err.find("note: created a new database at"), std::string::npos) << r.err;
  r = Cli(db + "enqueue k");
  EXPECT_EQ(r.err.find("created"), std::string::npos) << r.err;
  r = Cli(db + "jobs list --json");
  EXPECT_EQ(r.status, 0) << r.output;
  std::filesystem::remove_all(dir);
}

TEST(CliDatabaseFileTest, AServersDatabaseGetsItsSchemaOnTheFirstWriteAndItIsSaid) {
  auto db = testing::TestBackend::Make(BackendKind::kPostgres);  // empty: no schema yet
  std::string url = "--database " + Quote(db->url()) + " ";
  auto r = Cli(url + "jobs list");
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.err.find("no Spindle schema yet"), std::string::npos) << r.err;
  r = Cli(url + "enqueue k");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.err.find("note: created or upgraded Spindle's schema (version " +
                       std::to_string(Client::KnownSchemaVersion()) + ")"),
            std::string::npos)
      << r.err;
  r = Cli(url + "enqueue k");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.err.find("schema"), std::string::npos) << r.err;
}

TEST_P(CliTest, ShowsTheAttemptsUsedOfMaxAttemptsAndTheRunsBesides) {
  std::string id = client_->Enqueue({.kind = "k", .max_attempts = 25});
  auto r = Run("jobs show " + id);
  EXPECT_NE(r.out.find("attempts:     0 of 25 used\n"), std::string::npos) << r.out;
  // Five runs, two of which (naps, stops, hand-backs) did not count.
  db_->Query("UPDATE {jobs} SET attempt = 5, attempts_used = 3 WHERE id = '" + id + "'");
  r = Run("jobs show " + id);
  EXPECT_NE(r.out.find("attempts:     3 of 25 used (run 5)\n"), std::string::npos) << r.out;
  Json j = Json::parse(Run("jobs show " + id + " --json").out);
  EXPECT_EQ(j["attempts_used"], 3);
  EXPECT_EQ(j["attempt"], 5);
  EXPECT_EQ(j["max_attempts"], 25);
  r = Run("jobs list");
  EXPECT_NE(r.out.find("ATTEMPTS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    3/25  "), std::string::npos) << r.out;
}

TEST_P(CliTest, ControlCommandsSayWhichStatesTheyApplyTo) {
  for (const auto& [command, states] : std::vector<std::pair<std::string, std::string>>{
           {"stop", "Applies to: scheduled, available, retryable, waiting, running."},
           {"resume", "Applies to: stopped."},
           {"cancel", "Applies to: scheduled, available, retryable, waiting, running, stopped."},
           {"retry", "Applies to: completed, failed, cancelled."},
           {"wake", "Applies to: scheduled, retryable, waiting"}}) {
    auto r = Run("jobs " + command + " --help");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find(states), std::string::npos) << command << ": " << r.output;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, CliTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle

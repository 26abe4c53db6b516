// Kinds on the command line, on both backends: the defaults a worker records apply to
// `spindle enqueue` with or without --config; enqueue warns when no live worker serves the job;
// `queues list` shows each queue's consumers, `workers list` each worker's queues, and
// `jobs show` the timeout a job runs with (docs/jobs.md, "Kind defaults").
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "store/store.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::Cli;
using testing::Process;
using testing::Quote;
using testing::TestBackend;
using testing::WaitUntil;

// A worker serving kind "img" in queue "images" (concurrency 3) with defaults, and queue "slow".
// Its command leaves the job as it is (a nap), so tests can read what the job was given.
constexpr const char* kServeConfig = R"(
[cluster]
heartbeat_interval = "200ms"

[queues.images]
concurrency = 3

[queues.slow]
concurrency = 2

[kinds.img]
command = ["/bin/sh", "-c", "cat > /dev/null; echo '{\"nap\": \"1h\"}'"]
queue = "images"
priority = 5
max_attempts = 4
timeout = "2m"
)";

class CliKindsTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override { client_ = Client::Open({db_->url()}); }
  // `spindle --database URL ARGS`.
  testing::CliResult Run(const std::string& args, const std::string& input = "") {
    return Cli("--database " + Quote(db_->url()) + " " + args, input);
  }
  // A file of this test alone: tests of both backends run in parallel.
  std::string TempFile(const std::string& name, const std::string& text) {
    std::string path = ::testing::TempDir() + "spindle_cli_kinds_" + std::to_string(getpid()) +
                       "_" + testing::Name(GetParam()) + "_" + name;
    std::ofstream(path) << text;
    return path;
  }
  // Starts `spindle serve` with kServeConfig and waits until it is a live member.
  std::unique_ptr<Process> Serve() {
    auto serve = std::make_unique<Process>(std::vector<std::string>{
        SPINDLE_BIN, "--database", db_->url(), "--config", TempFile("serve.toml", kServeConfig),
        "serve"});
    EXPECT_TRUE(WaitUntil([&] {
      auto r = Run("workers list --json");
      return r.status == 0 && Json::parse(r.out)["workers"].size() == 1;
    }, 60s));
    return serve;
  }
  Job JobOf(const testing::CliResult& r) { return client_->Get(r.out.substr(0, 36)); }
  // The line of `text` that starts with `start` ("" when none).
  static std::string LineOf(const std::string& text, const std::string& start) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(start, 0) == 0) return line;
    }
    return "";
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::unique_ptr<Client> client_;
};

// The kind's queue, priority, max_attempts and timeout apply without --config; what the command
// line says wins, then the --config kind section, then what the worker recorded.
TEST_P(CliKindsTest, EnqueueAppliesTheKindDefaultsAWorkerRecorded) {
  auto serve = Serve();
  auto r = Run("enqueue img");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.err, "") << "served, so no warning";
  Job j = JobOf(r);
  EXPECT_EQ(j.queue, "images");
  EXPECT_EQ(j.priority, 5);
  EXPECT_EQ(j.max_attempts, 4);
  EXPECT_EQ(j.timeout, Millis(2min));

  r = Run("enqueue img --queue slow --priority -1 --max-attempts 9 --timeout 5s");
  ASSERT_EQ(r.status, 0) << r.output;
  j = JobOf(r);
  EXPECT_EQ(j.queue, "slow");
  EXPECT_EQ(j.priority, -1);
  EXPECT_EQ(j.max_attempts, 9);
  EXPECT_EQ(j.timeout, Millis(5s));
  // Served: a worker fetches its kinds from each of its queues, "slow" too.
  EXPECT_EQ(r.err, "");

  // --config's kind section comes between the command line and the recorded defaults.
  std::string cfg = TempFile("enqueue.toml", "[kinds.img]\nqueue = \"slow\"\npriority = 1\n");
  r = Run("--config " + Quote(cfg) + " enqueue img --priority 2");
  ASSERT_EQ(r.status, 0) << r.output;
  j = JobOf(r);
  EXPECT_EQ(j.queue, "slow");
  EXPECT_EQ(j.priority, 2);
  EXPECT_EQ(j.max_attempts, 4);
  EXPECT_EQ(j.timeout, Millis(2min));
  serve->Signal(SIGTERM);
  EXPECT_EQ(serve->Wait(), 0);

  // The defaults stay recorded when the worker is gone.
  r = Run("enqueue img");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(JobOf(r).queue, "images");
  EXPECT_NE(r.err.find("warning: no live worker serves kind 'img'"), std::string::npos) << r.err;
}

// A kind or queue no live worker serves: a warning on stderr (exit 0), served/warning in JSON.
TEST_P(CliKindsTest, EnqueueWarnsWhenNoLiveWorkerServesTheJob) {
  auto r = Run("enqueue nobody");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.err,
            "warning: no live worker serves kind 'nobody': the job waits in queue 'default' "
            "until one does\n");
  EXPECT_EQ(client_->Get(r.out.substr(0, 36)).state, JobState::kAvailable);

  auto& store = client_->store();
  // A member silent past its heartbeat timeout is not live.
  store.MemberRegister({.id = "dead", .host = "h", .pid = 1, .version = "1", .queues = {"default"},
                        .kinds = {"nobody"}, .heartbeat_timeout = 1ms});
  ASSERT_TRUE(WaitUntil([&] { return !client_->Members().members.at(0).live(); }, 10s));
  r = Run("enqueue nobody --json");
  ASSERT_EQ(r.status, 0) << r.output;
  Json out = Json::parse(r.out);
  EXPECT_EQ(out["served"], false);
  EXPECT_EQ(out["queue"], "default");
  EXPECT_EQ(out["warning"],
            "no live worker serves kind 'nobody': the job waits in queue 'default' until one "
            "does");
  EXPECT_EQ(client_->Get(out["id"]).kind, "nobody");

  store.MemberRegister({.id = "live", .host = "h", .pid = 2, .version = "1",
                        .queues = {"default", "mail"}, .kinds = {"nobody"},
                        .heartbeat_timeout = 1h});
  r = Run("enqueue nobody --json");
  ASSERT_EQ(r.status, 0) << r.output;
  out = Json::parse(r.out);
  EXPECT_EQ(out["served"], true);
  EXPECT_FALSE(out.contains("warning"));
  EXPECT_EQ(r.err, "");

  // Served, but not in the queue the job goes to.
  r = Run("enqueue nobody --queue other");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.err,
            "warning: no live worker serves kind 'nobody' in queue 'other' (live workers serve "
            "it in default, mail): the job waits until one does\n");
}

// `queues list`: live consumers and their concurrency, the waiting column, NO CONSUMER for a
// queue with available jobs that nobody consumes. `workers list`: QUEUES as name=concurrency.
TEST_P(CliKindsTest, QueuesListShowsConsumersAndWorkersListTheirConcurrency) {
  auto serve = Serve();
  client_->Enqueue({.kind = "x", .queue = "orphan"});
  auto r = Run("queues list --json");
  ASSERT_EQ(r.status, 0) << r.output;
  std::map<std::string, Json> queues;
  for (const auto& q : Json::parse(r.out)) queues[q["name"]] = q;
  ASSERT_EQ(queues.size(), 3u) << r.out;  // images and slow have no jobs, but a consumer
  EXPECT_EQ(queues["images"]["consumers"], 1);
  EXPECT_EQ(queues["images"]["concurrency"], 3);
  EXPECT_EQ(queues["images"]["no_consumer"], false);
  EXPECT_EQ(queues["slow"]["concurrency"], 2);
  EXPECT_EQ(queues["orphan"]["consumers"], 0);
  EXPECT_EQ(queues["orphan"]["concurrency"], 0);
  EXPECT_EQ(queues["orphan"]["no_consumer"], true);

  r = Run("queues list");
  ASSERT_EQ(r.status, 0) << r.output;
  std::string header = LineOf(r.out, "QUEUE");
  EXPECT_NE(header.find("CONSUMERS"), std::string::npos) << r.out;
  EXPECT_NE(header.find("waiting"), std::string::npos) << r.out;
  std::string orphan = LineOf(r.out, "orphan ");
  EXPECT_NE(orphan.find("NO CONSUMER"), std::string::npos) << r.out;
  std::string images = LineOf(r.out, "images ");
  EXPECT_EQ(images.find("NO CONSUMER"), std::string::npos) << r.out;
  EXPECT_EQ(images.substr(header.find("CONSUMERS"), 6), "1 (3) ") << r.out;

  r = Run("workers list");
  ASSERT_EQ(r.status, 0) << r.output;
  header = LineOf(r.out, "ID ");
  std::string row = r.out.substr(r.out.find('\n') + 1);
  size_t at = header.find("QUEUES"), roles = header.find("ROLES");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_EQ(row.substr(at, roles - at), "images=3,slow=2" + std::string(roles - at - 15, ' '))
      << r.out;
  EXPECT_EQ(row.substr(roles, 1), "-") << r.out;
  r = Run("workers list --json");
  Json w = Json::parse(r.out)["workers"][0];
  EXPECT_EQ(w["concurrency"], (Json{{"images", 3}, {"slow", 2}}));
  EXPECT_EQ(w["kinds"], Json::array({"img"}));
  serve->Signal(SIGTERM);
  EXPECT_EQ(serve->Wait(), 0);

  // Gone: its queues have no consumer, and the one with available jobs says so.
  client_->Enqueue({.kind = "img"});
  r = Run("queues list");
  EXPECT_NE(LineOf(r.out, "images ").find("NO CONSUMER"), std::string::npos) << r.out;
  EXPECT_EQ(LineOf(r.out, "slow "), "") << "listed without jobs or a consumer: " << r.out;
}

// `jobs show`: the job's own timeout, else its kind's recorded one, else the worker's.
TEST_P(CliKindsTest, JobsShowPrintsTheEffectiveTimeout) {
  std::string none = client_->Enqueue({.kind = "plain"});
  std::string own = client_->Enqueue({.kind = "plain", .timeout = 30s});
  std::string before = client_->Enqueue({.kind = "img"});  // before its defaults were recorded
  client_->store().KindRegister("w", {{"img", {.timeout = 2min}}});

  auto r = Run("jobs show " + none);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(LineOf(r.out, "timeout:"), "timeout:      none (the worker's default_timeout applies)");
  EXPECT_EQ(Json::parse(Run("jobs show --json " + none).out)["effective_timeout_ms"], nullptr);
  EXPECT_EQ(LineOf(Run("jobs show " + own).out, "timeout:"), "timeout:      30s");
  EXPECT_EQ(LineOf(Run("jobs show " + before).out, "timeout:"), "timeout:      2m (the kind's)");
  r = Run("jobs show --json " + before);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Json::parse(r.out)["effective_timeout_ms"], 120000);
  EXPECT_EQ(Json::parse(r.out)["timeout_ms"], nullptr);
}

// [kinds.X] priority is read strictly, as every other key.
TEST_P(CliKindsTest, TheConfigurationsKindPriorityIsAWholeNumber) {
  std::string cfg = TempFile("bad.toml", "[kinds.img]\npriority = 1.5\n");
  auto r = Run("--config " + Quote(cfg) + " enqueue img");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.err.find("kinds.img.priority"), std::string::npos) << r.err;
  EXPECT_TRUE(client_->List({}).empty());
}

// Kinds configured only for their settings (a serial policy, a queue) give `serve` nothing to
// run: it says which, and exits without joining the cluster.
TEST_P(CliKindsTest, ServeWithKindsThatHaveNoCommandSaysWhichAndExits) {
  std::string config = TempFile("settings.toml", "[kinds.a]\nserial = \"continue\"\n"
                                                 "[kinds.b]\nqueue = \"q\"\n");
  auto r = Run("--config " + Quote(config) + " serve");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.err.find("nothing to serve: [kinds.a], [kinds.b] of the configuration have no "
                       "command = [...]"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(client_->Members().members.empty());
  // No configuration at all: the same, with what to write.
  r = Run("serve");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.err.find("nothing to serve: give a configuration"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Backends, CliKindsTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle

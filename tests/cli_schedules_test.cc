// Periodic jobs on the command line, on both backends: `spindle serve` declares the
// configuration's [schedules.NAME] (and removes the others), `spindle schedules list|pause|
// resume|run` steer them, with --json, and bad expressions and zones are refused naming the key.
#include <gtest/gtest.h>

#include <fstream>

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

constexpr const char* kConfig = R"(
[kinds.nightly_report]
command = ["/bin/true"]

[schedules.nightly]
cron = "0 2 * * *"
zone = "Europe/Berlin"
kind = "nightly_report"
args = { format = "pdf", pages = [1, 2] }
jitter = "30s"
overrun = "queue"
catch_up = "none"
)";

class CliSchedulesTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  testing::CliResult Run(const std::string& args) {
    return Cli("--database " + Quote(db_->url()) + " " + args);
  }
  std::string TempFile(const std::string& name, const std::string& text) {
    std::string path = ::testing::TempDir() + "spindle_cli_schedules_" + std::to_string(getpid()) +
                       "_" + testing::Name(GetParam()) + "_" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
};

TEST_P(CliSchedulesTest, ServeDeclaresAndTheCommandsSteer) {
  Process serve({SPINDLE_BIN, "--database", db_->url(), "--config",
                 TempFile("serve.toml", kConfig), "serve"});
  ASSERT_TRUE(WaitUntil([&] {
    auto r = Run("schedules list --json");
    return r.status == 0 && Json::parse(r.out).size() == 1;
  }, 60s));
  auto r = Run("schedules list --json");
  Json s = Json::parse(r.out)[0];
  EXPECT_EQ(s["name"], "nightly");
  EXPECT_EQ(s["cron"], "0 2 * * *");
  EXPECT_EQ(s["zone"], "Europe/Berlin");
  EXPECT_EQ(s["kind"], "nightly_report");
  EXPECT_EQ(s["args"], (Json{{"format", "pdf"}, {"pages", {1, 2}}}));
  EXPECT_EQ(s["jitter_ms"], 30000);
  EXPECT_EQ(s["overrun"], "queue");
  EXPECT_EQ(s["catch_up"], "none");
  EXPECT_EQ(s["paused"], false);
  ASSERT_EQ(s["next"].size(), 3u);
  // 02:00 in Berlin is 00:00 or 01:00 UTC.
  std::string first = s["next"][0];
  EXPECT_TRUE(first.find("T01:00:00.000Z") != std::string::npos ||
              first.find("T00:00:00.000Z") != std::string::npos)
      << first;

  r = Run("schedules list");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.out.find("nightly"), std::string::npos);
  EXPECT_NE(r.out.find("Europe/Berlin"), std::string::npos);

  r = Run("schedules pause nightly --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Json::parse(r.out)[0]["paused"], true);
  EXPECT_EQ(Json::parse(r.out)[0]["next"], Json::array());  // it fires at none while paused
  r = Run("schedules resume nightly");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.out.find("nightly"), std::string::npos);

  r = Run("schedules run nightly --json");
  ASSERT_EQ(r.status, 0) << r.output;
  std::string id = Json::parse(r.out)["id"];
  EXPECT_EQ(Json::parse(r.out)["schedule"], "nightly");
  auto client = Client::Open({db_->url()});
  Job job = client->Get(id);
  EXPECT_EQ(job.kind, "nightly_report");
  EXPECT_EQ(job.args["format"], "pdf");

  for (const char* cmd : {"pause", "resume", "run"}) {
    r = Run(std::string("schedules ") + cmd + " nope");
    EXPECT_EQ(r.status, 3) << r.output;
    EXPECT_EQ(r.err, "error: no schedule named 'nope'\n");
    r = Run(std::string("schedules ") + cmd + " nope --json");
    EXPECT_EQ(r.status, 3);
    EXPECT_NE(r.err.find("\"not_found\""), std::string::npos) << r.err;
  }
}

TEST_P(CliSchedulesTest, ServeRemovesSchedulesTheFileNoLongerDeclares) {
  std::string with_two = std::string(kConfig) +
                         "\n[schedules.old]\ncron = \"@hourly\"\nkind = \"nightly_report\"\n";
  {
    Process serve({SPINDLE_BIN, "--database", db_->url(), "--config",
                   TempFile("two.toml", with_two), "serve"});
    ASSERT_TRUE(WaitUntil([&] {
      auto r = Run("schedules list --json");
      return r.status == 0 && Json::parse(r.out).size() == 2;
    }, 60s));
    serve.Signal(SIGTERM);
    EXPECT_EQ(serve.Wait(), 0);
  }
  Process serve({SPINDLE_BIN, "--database", db_->url(), "--config",
                 TempFile("one.toml", kConfig), "serve"});
  ASSERT_TRUE(WaitUntil([&] {
    auto r = Run("schedules list --json");
    return r.status == 0 && Json::parse(r.out).size() == 1;
  }, 60s));
  EXPECT_EQ(Json::parse(Run("schedules list --json").out)[0]["name"], "nightly");
}

TEST_P(CliSchedulesTest, BadExpressionsAndZonesAreRefusedNamingTheKey) {
  auto check = [&](const std::string& key_value, const std::string& message) {
    std::string cfg = TempFile("bad.toml", "[schedules.nightly]\nkind = \"k\"\n" + key_value);
    auto r = Run("--config " + Quote(cfg) + " serve");
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  };
  check("cron = \"0 25 * * *\"\n",
        "schedules.nightly.cron: field 2 (hour) '25' is out of range 0-23");
  check("cron = \"@daily\"\nzone = \"Europe/Atlantis\"\n",
        "schedules.nightly.zone: unknown time zone 'Europe/Atlantis'");
  check("cron = \"@daily\"\novverun = \"skip\"\n", "unknown key 'schedules.nightly.ovverun'");
  check("cron = \"@daily\"\noverrun = \"later\"\n",
        "'schedules.nightly.overrun' must be skip, queue or replace, got \"later\"");
  check("zone = \"UTC\"\n", "'schedules.nightly.cron' is required");
  // Nothing was created: refused before the database was opened.
  EXPECT_EQ(Run("schedules list").status, 3);
}

auto BackendName = [](const auto& info) { return testing::Name(info.param); };
INSTANTIATE_TEST_SUITE_P(Backends, CliSchedulesTest, ::testing::ValuesIn(testing::kAllBackends),
                         BackendName);

}  // namespace
}  // namespace spindle

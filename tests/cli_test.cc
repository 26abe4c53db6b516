// The spindle command line as people use it, on both backends: each test runs the real binary.
#include <gtest/gtest.h>

#include "store/store.h"
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

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

INSTANTIATE_TEST_SUITE_P(Backends, CliTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle

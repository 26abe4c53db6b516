// Every `spindle ...` command the README, docs/ and examples/ show is run as written (with its
// placeholders filled in) on a scratch database: none may be refused as bad input (exit 2), as
// `spindle enqueue KIND '{...}'` without --args once was. Commands that run until stopped (serve)
// or for long (bench) are left out; their options are covered by process_test and cli_test.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>

#include "testing.h"

namespace spindle {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The text after "spindle " of every command in a file: in Markdown, inside code blocks and
// `code spans`; in shell scripts, on every line (comments show commands too).
std::vector<std::string> CommandsIn(const fs::path& path) {
  std::string text = ReadFile(path);
  std::vector<std::string> code;
  if (path.extension() == ".md") {
    bool fenced = false;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("```", 0) == 0) {
        fenced = !fenced;
      } else if (fenced) {
        code.push_back(line);
      } else {
        static const std::regex span("`([^`]+)`");
        for (std::sregex_iterator it(line.begin(), line.end(), span), end; it != end; ++it) {
          code.push_back((*it)[1]);
        }
      }
    }
  } else {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) code.push_back(line);
  }
  std::vector<std::string> commands;
  static const std::regex command(R"((?:^|[\s:;(])(?:build/)?spindle ([a-z-][^#`|]*))");
  for (std::string line : code) {
    // `sudo -u spindle spindle ...`: the first is the user.
    line = std::regex_replace(line, std::regex(R"(-u spindle )"), "-u USER ");
    for (std::sregex_iterator it(line.begin(), line.end(), command), end; it != end; ++it) {
      std::string args = (*it)[1];
      args.erase(args.find_last_not_of(" \t") + 1);
      commands.push_back(args);
    }
  }
  return commands;
}

TEST(DocsTest, EveryDocumentedCommandIsAcceptedAsWritten) {
  std::string dir = ::testing::TempDir() + "spindle_docs_" + std::to_string(getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string db = "sqlite:" + dir + "/docs.db";
  auto client = Client::Open({db});
  std::string config = std::string(SOURCE_DIR) + "/examples/spindle.toml";

  std::vector<fs::path> files = {fs::path(SOURCE_DIR) / "README.md"};
  for (const char* sub : {"docs", "examples"}) {
    for (const auto& e : fs::directory_iterator(fs::path(SOURCE_DIR) / sub)) {
      if (e.path().extension() == ".md" || e.path().extension() == ".sh") files.push_back(e.path());
    }
  }
  // Placeholders, as whole words, and what stands in for them.
  const std::pair<std::regex, std::string> fills[] = {
      // The Debian package's configuration (docs/deployment.md), as the package installs it.
      {std::regex(R"(/etc/spindle/spindle\.toml)"), std::string(SOURCE_DIR) + "/packaging/spindle.toml"},
      {std::regex(R"(\bURL\b)"), db},
      {std::regex(R"(\bFILE\b)"), config},
      {std::regex(R"(\bNAME\b)"), "default"},
      {std::regex(R"(\bKIND\b)"), "hello"},
      {std::regex(R"(\bTEXT\b)"), "maintenance"},
      {std::regex(R"(\bLEVEL\b)"), "info"},
  };
  int ran = 0;
  std::set<std::string> seen;
  for (const auto& file : files) {
    for (std::string args : CommandsIn(file)) {
      // Not a command line but a synopsis ([OPTIONS], COMMAND, ...), or one that runs on.
      if (std::regex_search(args, std::regex(R"(\[|\.\.\.|…|\bCOMMAND\b|^serve\b|\bserve$|\bweb\b|\bbench\b)"))) {
        continue;
      }
      if (!seen.insert(args).second) continue;
      for (const auto& [placeholder, value] : fills) args = std::regex_replace(args, placeholder, value);
      // Each command gets a job of its own to act on.
      args = std::regex_replace(args, std::regex(R"(\bID\b)"), client->Enqueue({.kind = "hello"}));
      auto r = testing::RunCommand(
          "env -C " + testing::Quote(dir) + " SPINDLE_DATABASE=" + testing::Quote(db) +
              " -u SPINDLE_CONFIG " + SPINDLE_BIN,
          args);
      EXPECT_NE(r.status, 2) << file.filename() << ": spindle " << args << "\n" << r.output;
      EXPECT_EQ(r.output.find("unknown command"), std::string::npos) << args << "\n" << r.output;
      ++ran;
    }
  }
  EXPECT_GE(ran, 15) << "the documented commands were not found";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace spindle

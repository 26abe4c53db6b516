#include "cli/usage.h"

#include <algorithm>
#include <iostream>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace spindle::cli {
namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The option named `word` where `app` is parsing: its own or a parent's (they fall through).
const CLI::Option* FindOption(CLI::App* app, const std::string& word) {
  for (; app; app = app->get_parent()) {
    if (const CLI::Option* opt = app->get_option_no_throw(word)) return opt;
  }
  return nullptr;
}

// "unknown option '--databse' (did you mean '--database'?)": the closest option of the command
// or of those it falls through to.
std::string UnknownOption(CLI::App* at, const std::string& path, const std::string& word) {
  std::string closest;
  size_t best = 3;
  for (CLI::App* app = at; app; app = app->get_parent()) {
    for (const CLI::Option* opt : app->get_options()) {
      for (const std::string& name : opt->get_lnames()) {
        if (size_t d = EditDistance(word, "--" + name); d < best) {
          best = d;
          closest = "--" + name;
        }
      }
    }
  }
  std::string command = path.empty() ? "" : fmt::format(" for '{}'", path.substr(0, path.size() - 1));
  return fmt::format("unknown option '{}'{}{}", word, command,
                     closest.empty() ? "" : fmt::format(" (did you mean '{}'?)", closest));
}

}  // namespace

std::optional<std::string> UnknownCommand(CLI::App& app, int argc, char** argv) {
  CLI::App* at = &app;
  std::string path;  // the commands read so far: "jobs "
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word == "--") return std::nullopt;
    if (word.size() > 1 && word[0] == '-') {
      std::string name = word.substr(0, word.find('='));
      const CLI::Option* opt = FindOption(at, name);
      if (!opt) return UnknownOption(at, path, name);
      if (opt->get_expected_min() > 0 && name == word) ++i;  // skip its value
      continue;
    }
    auto commands = at->get_subcommands([](CLI::App*) { return true; });
    if (commands.empty()) return std::nullopt;  // an argument of a command, not a command
    auto it = std::find_if(commands.begin(), commands.end(),
                           [&](CLI::App* c) { return c->get_name() == word; });
    if (it != commands.end()) {
      at = *it;
      path += word + " ";
      continue;
    }
    std::string names, closest;
    size_t best = 3;  // suggest only what is at most two edits away
    for (CLI::App* c : commands) {
      names += (names.empty() ? "" : ", ") + c->get_name();
      if (size_t d = EditDistance(word, c->get_name()); d < best) {
        best = d;
        closest = c->get_name();
      }
    }
    std::string hint = closest.empty() ? "" : fmt::format(" (did you mean '{}{}'?)", path, closest);
    return fmt::format("unknown command '{}{}'{}; {}commands: {}", path, word, hint, path, names);
  }
  return std::nullopt;
}

std::optional<std::string> EmptyOptionValue(const CLI::App& app) {
  for (const CLI::Option* opt : app.get_options()) {
    for (const std::string& value : opt->results()) {
      if (value.empty()) return fmt::format("{} needs a value, got ''", opt->get_name());
    }
  }
  for (const CLI::App* sub : app.get_subcommands()) {
    if (auto found = EmptyOptionValue(*sub)) return found;
  }
  return std::nullopt;
}

void ReportError(std::string_view code, std::string_view message, bool json) {
  if (json) {
    std::cerr << nlohmann::json{{"error", code}, {"reason", message}}.dump() << "\n";
  } else {
    std::cerr << "error: " << message << "\n";
  }
}

}  // namespace spindle::cli

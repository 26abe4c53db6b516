#include "core/job_query.h"

#include <fmt/format.h>

#include "core/duration.h"
#include "core/job_json.h"
#include "spindle/error.h"

namespace spindle::core {
namespace {

Error Bad(const std::string& why) { return Error(ErrorCode::kInvalidArgument, why); }

// A dotted path of names of letters, digits, '_' and '-'.
bool ValidPath(const std::string& path) {
  if (path.empty() || path.front() == '.' || path.back() == '.') return false;
  char prev = 0;
  for (char c : path) {
    bool name = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    if (!name && !(c == '.' && prev != '.')) return false;
    prev = c;
  }
  return true;
}

}  // namespace

int ParsePriority(const std::string& text) {
  auto v = ParseInteger(text, INT32_MIN, INT32_MAX);
  if (!v) {
    throw Bad(fmt::format("priority must be an integer from {} to {}, got '{}'", INT32_MIN,
                          INT32_MAX, text));
  }
  return static_cast<int>(*v);
}

void ApplyJobQuery(const std::string& query, JobFilter& f) {
  size_t at = 0;
  while (true) {
    while (at < query.size() && query[at] == ' ') ++at;
    if (at == query.size()) return;
    size_t colon = query.find(':', at);
    size_t space = query.find(' ', at);
    if (colon == std::string::npos || (space != std::string::npos && space < colon)) {
      throw Bad(fmt::format("search term '{}' is not KEY:VALUE",
                            query.substr(at, space == std::string::npos ? space : space - at)));
    }
    std::string key = query.substr(at, colon - at);
    at = colon + 1;
    std::string raw;  // the value as written
    if (at < query.size() && query[at] == '"') {
      size_t end = at + 1;
      while (end < query.size() && query[end] != '"') end += query[end] == '\\' ? 2 : 1;
      if (end >= query.size()) throw Bad(fmt::format("search term '{}' has no closing quote", key));
      raw = query.substr(at, end + 1 - at);
      at = end + 1;
    } else {
      size_t end = std::min(query.find(' ', at), query.size());
      raw = query.substr(at, end - at);
      at = end;
    }
    if (raw.empty()) throw Bad(fmt::format("search term '{}:' has no value", key));
    Json value = Json::parse(raw, nullptr, false);
    if (raw.front() == '"' && !value.is_string()) {
      throw Bad(fmt::format("search term '{}' has a badly quoted value: {}", key, raw));
    }
    if (value.is_discarded()) value = raw;
    if (key.rfind("args.", 0) == 0) {
      std::string path = key.substr(5);
      if (!ValidPath(path)) {
        throw Bad(
            fmt::format("search term '{}': a path is names of letters, digits, '_' and "
                        "'-' joined by dots",
                        key));
      }
      f.args.emplace_back(path, std::move(value));
      continue;
    }
    std::string text = value.is_string() ? value.get<std::string>() : raw;
    auto twice = [&] {
      return Bad(fmt::format("'{}' is given twice (in q, or in q and as a parameter)", key));
    };
    auto set = [&](std::string& field) {
      if (!field.empty()) throw twice();
      field = text;
    };
    if (key == "state") {
      if (!f.states.empty()) throw twice();
      f.states = ParseStates(text);
    } else if (key == "queue") {
      set(f.queue);
    } else if (key == "kind") {
      set(f.kind);
    } else if (key == "parent") {
      set(f.parent_id);
    } else if (key == "serial_key") {
      set(f.serial_key);
    } else if (key == "priority") {
      if (f.priority) throw twice();
      f.priority = ParsePriority(text);
    } else {
      throw Bad(
          fmt::format("unknown search key '{}' (known: state, queue, kind, parent, "
                      "serial_key, priority, args.PATH)",
                      key));
    }
  }
}

}  // namespace spindle::core

#include <fmt/format.h>

#include "core/text.h"
#include "spindle/error.h"
#include "spindle/limit.h"

namespace spindle {
namespace {

Error Invalid(const std::string& msg) { return Error(ErrorCode::kInvalidArgument, msg); }

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-' || c == '.' || c == ':';
}

}  // namespace

void Limit::Validate() const {
  if (name.empty() || name.size() > 100) throw Invalid("a limit's name must be 1 to 100 characters");
  for (char c : name) {
    if (!NameChar(c)) {
      throw Invalid(fmt::format(
          "limit '{}': a name may hold letters, digits, '_', '-', '.' and ':' only", name));
    }
  }
  std::string at = "limit '" + name + "': ";
  if (capacity < 1 || capacity > 1'000'000) throw Invalid(at + "capacity must be 1 to 1000000");
  if (queue && queue->empty()) throw Invalid(at + "queue must not be empty");
  if (kind && kind->empty()) throw Invalid(at + "kind must not be empty");
  if (!units.empty() && kind) {
    throw Invalid(at + "a pool names the kinds that use it with their units; kind must be unset");
  }
  for (const auto& [k, n] : units) {
    if (k.empty()) throw Invalid(at + "a kind that uses the pool must have a name");
    if (n < 1 || n > capacity) {
      throw Invalid(fmt::format("{}kind '{}' takes {} units, but a job must take 1 to {} "
                                "(the capacity)",
                                at, k, n, capacity));
    }
  }
  if (per && (*per < Millis(1) || *per > kMaxRatePer)) {
    throw Invalid(at + "per must be 1ms to 30 days");
  }
  if (per && !units.empty()) {
    throw Invalid(at + "a pool counts units held while jobs run; it cannot be a rate (per)");
  }
  if (key) {
    if (!core::IsArgsPath(*key)) {
      throw Invalid(fmt::format("{}key \"{}\" must be a path into the job's args such as "
                                "\"customer_id\" or \"account.id\"",
                                at, *key));
    }
  }
}

int Limit::UnitsOf(std::string_view k) const {
  auto it = units.find(std::string(k));
  return it == units.end() ? 1 : it->second;
}

Json Limit::ToJson() const {
  auto opt = [](const auto& v) { return v ? Json(*v) : Json(nullptr); };
  return {{"name", name},       {"capacity", capacity}, {"queue", opt(queue)},
          {"kind", opt(kind)},  {"key", opt(key)},
          {"units", units.empty() ? Json(nullptr) : Json(units)},
          {"per_ms", per ? Json(per->count()) : Json(nullptr)}};
}

Json LimitInfo::ToJson() const {
  Json j = limit.ToJson();
  j["running"] = running;
  j["waiting"] = waiting;
  j["keys"] = limit.key ? Json(keys) : Json(nullptr);
  return j;
}

}  // namespace spindle

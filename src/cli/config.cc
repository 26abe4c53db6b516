#include "cli/config.h"

#include <cctype>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "cli/options.h"
#include "core/duration.h"
#include "runtime/command_controls.h"
#include "spindle/error.h"

namespace spindle::cli {
namespace {

[[noreturn]] void Fail(const std::string& path, const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, fmt::format("invalid configuration {}: {}", path, msg));
}

void OnlyKeys(const std::string& path, const toml::table& t, const std::string& where,
              const std::set<std::string>& allowed) {
  for (const auto& [k, v] : t) {
    if (!allowed.count(std::string(k.str()))) {
      Fail(path, fmt::format("unknown key '{}{}'", where, k.str()));
    }
  }
}

// Typed readers: a present key of the wrong type is an error, not a silent default.
std::optional<std::string> Str(const std::string& path, const toml::table& t,
                               const std::string& key, const std::string& where) {
  const auto* n = t.get(key);
  if (!n) return std::nullopt;
  if (auto v = n->value<std::string>()) return *v;
  Fail(path, fmt::format("'{}{}' must be a string", where, key));
}

// A value as written in TOML, for messages.
std::string Shown(const toml::node& n) {
  std::ostringstream out;
  n.visit([&](const auto& v) { out << v; });
  return out.str();
}

// A whole number in [min, max], checked before the caller narrows it.
std::optional<int64_t> Int(const std::string& path, const toml::table& t, const std::string& key,
                           const std::string& where, int64_t min, int64_t max) {
  const auto* n = t.get(key);
  if (!n) return std::nullopt;
  auto v = n->value<int64_t>();
  if (!n->is_integer() || *v < min || *v > max) {
    Fail(path, fmt::format("'{}{}' must be {}, got {}", where, key, core::DescribeRange(min, max),
                           Shown(*n)));
  }
  return *v;
}

std::optional<bool> Bool(const std::string& path, const toml::table& t, const std::string& key,
                         const std::string& where) {
  const auto* n = t.get(key);
  if (!n) return std::nullopt;
  if (!n->is_boolean()) {
    Fail(path, fmt::format("'{}{}' must be true or false, got {}", where, key, Shown(*n)));
  }
  return n->as_boolean()->get();
}

// A duration; zero only where `zero_ok` (a zero lease, interval or timeout cannot work).
std::optional<Millis> Dur(const std::string& path, const toml::table& t, const std::string& key,
                          const std::string& where, bool zero_ok = false) {
  const auto* n = t.get(key);
  if (n && !n->is_string()) {
    Fail(path, fmt::format("'{}{}' must be a duration such as \"30s\", \"5m\" or \"1h\", got {}",
                           where, key, Shown(*n)));
  }
  auto s = Str(path, t, key, where);
  if (!s) return std::nullopt;
  Millis d;
  try {
    d = core::ParseDuration(*s);
  } catch (const Error& e) {
    Fail(path, fmt::format("'{}{}': {}", where, key, e.what()));
  }
  if (d == Millis(0) && !zero_ok) {
    Fail(path, fmt::format("'{}{}' must be longer than 0s, got \"{}\"", where, key, *s));
  }
  return d;
}

// A rate limit written "N/DURATION" (docs/regulation.md, "Rate limits"): "100/1m", "5/s".
std::optional<Limit> Rate(const std::string& path, const toml::table& t, const std::string& where,
                          const std::string& name) {
  auto s = Str(path, t, "rate", where);
  if (!s) return std::nullopt;
  auto fail = [&](const std::string& why) {
    Fail(path, fmt::format("'{}rate' must be \"N/DURATION\" such as \"100/1m\" or \"5/s\" "
                           "(at most N jobs start within any DURATION){}, got \"{}\"",
                           where, why, *s));
  };
  auto slash = s->find('/');
  if (slash == std::string::npos) fail("");
  auto n = core::ParseInteger(std::string_view(*s).substr(0, slash), 1, 1000000);
  if (!n) fail(": N is a whole number from 1 to 1000000");
  std::string per = s->substr(slash + 1);
  Limit l{.name = name, .capacity = static_cast<int>(*n)};
  try {
    // A bare unit is one of it: "5/s".
    l.per = core::ParseDuration(per == "ms" || per == "s" || per == "m" || per == "h" || per == "d"
                                    ? "1" + per
                                    : per);
  } catch (const Error&) {
    fail(": DURATION is a duration such as 500ms, 1s, 10s, 1m or 1h, or a unit alone (s, m, h)");
  }
  if (*l.per < Millis(1) || *l.per > kMaxRatePer) fail(": DURATION must be 1ms to 30 days");
  return l;
}

std::vector<std::string> Strings(const std::string& path, const toml::table& t,
                                 const std::string& key, const std::string& where,
                                 bool required) {
  std::vector<std::string> out;
  const auto* n = t.get(key);
  const auto* arr = n ? n->as_array() : nullptr;
  auto fail = [&] {
    Fail(path, fmt::format("'{}{}' must be {}array of strings", where, key,
                           required ? "a non-empty " : "an "));
  };
  if (n && !arr) fail();
  if (arr) {
    for (const auto& e : *arr) {
      auto v = e.value<std::string>();
      if (!v) fail();
      out.push_back(*v);
    }
  }
  if (required && out.empty()) fail();
  return out;
}

const toml::table* Table(const std::string& path, const toml::table& t, const std::string& key,
                         const std::string& where = "") {
  const auto* n = t.get(key);
  if (!n) return nullptr;
  if (!n->is_table()) Fail(path, fmt::format("'{}{}' must be a table", where, key));
  return n->as_table();
}

// A TOML value as JSON (a schedule's args).
Json ToJson(const toml::node& n) {
  if (const auto* t = n.as_table()) {
    Json out = Json::object();
    for (const auto& [k, v] : *t) out[std::string(k.str())] = ToJson(v);
    return out;
  }
  if (const auto* a = n.as_array()) {
    Json out = Json::array();
    for (const auto& v : *a) out.push_back(ToJson(v));
    return out;
  }
  if (auto v = n.value_exact<std::string>()) return *v;
  if (auto v = n.value_exact<int64_t>()) return *v;
  if (auto v = n.value_exact<double>()) return *v;
  if (auto v = n.value_exact<bool>()) return *v;
  return Shown(n);  // dates and times, as written
}

Schedule ReadSchedule(const std::string& path, const std::string& name, const toml::table& t) {
  const std::string at = fmt::format("schedules.{}.", name);
  OnlyKeys(path, t, at,
           {"cron", "zone", "kind", "args", "queue", "priority", "max_attempts", "timeout",
            "jitter", "overrun", "catch_up"});
  Schedule s{.name = name};
  auto required = [&](const std::string& key) {
    auto v = Str(path, t, key, at);
    if (!v) Fail(path, fmt::format("'{}{}' is required", at, key));
    return *v;
  };
  s.cron = required("cron");
  s.kind = required("kind");
  if (auto v = Str(path, t, "zone", at)) s.zone = *v;
  if (const auto* a = t.get("args")) {
    if (!a->is_table()) Fail(path, fmt::format("'{}args' must be a table", at));
    s.args = ToJson(*a);
  }
  s.queue = Str(path, t, "queue", at);
  if (auto v = Int(path, t, "priority", at, kIntMin, kIntMax)) s.priority = static_cast<int>(*v);
  if (auto v = Int(path, t, "max_attempts", at, 1, kIntMax)) s.max_attempts = static_cast<int>(*v);
  s.timeout = Dur(path, t, "timeout", at);
  if (auto v = Dur(path, t, "jitter", at, true)) s.jitter = *v;
  if (auto v = Str(path, t, "overrun", at)) {
    auto o = ParseOverrun(*v);
    if (!o) Fail(path, fmt::format("'{}overrun' must be skip, queue or replace, got \"{}\"", at, *v));
    s.overrun = *o;
  }
  if (auto v = Str(path, t, "catch_up", at)) {
    auto c = ParseCatchUp(*v);
    if (!c) Fail(path, fmt::format("'{}catch_up' must be latest or none, got \"{}\"", at, *v));
    s.catch_up = *c;
  }
  try {
    s.Validate();
  } catch (const Error& e) {
    Fail(path, e.what());
  }
  return s;
}

// An address-space size: whole bytes, or a string with a unit ("512MiB", "2GiB", "100MB").
uint64_t ReadBytes(const std::string& path, const toml::node& n, const std::string& key) {
  constexpr uint64_t kMin = uint64_t{1} << 20, kMax = uint64_t{1} << 50;
  const std::string what = fmt::format(
      "'{}' must be a size from 1MiB to 1PiB: bytes (536870912) or a string with a unit, "
      "KiB, MiB, GiB, TiB or KB, MB, GB, TB (\"512MiB\"), got {}",
      key, Shown(n));
  uint64_t bytes = 0;
  if (auto v = n.value_exact<int64_t>()) {
    if (*v < 0) Fail(path, what);
    bytes = static_cast<uint64_t>(*v);
  } else if (auto s = n.value_exact<std::string>()) {
    static constexpr std::pair<const char*, uint64_t> kUnits[] = {
        {"KiB", uint64_t{1} << 10}, {"MiB", uint64_t{1} << 20}, {"GiB", uint64_t{1} << 30},
        {"TiB", uint64_t{1} << 40}, {"KB", 1000},  {"MB", 1000000},  {"GB", 1000000000},
        {"TB", 1000000000000}};
    size_t digits = 0;
    while (digits < s->size() && std::isdigit(static_cast<unsigned char>((*s)[digits]))) ++digits;
    const std::string unit = s->substr(digits);
    uint64_t scale = 0;
    for (const auto& [name, size] : kUnits) scale = unit == name ? size : scale;
    if (digits == 0 || digits > 16 || scale == 0) Fail(path, what);
    const uint64_t count = std::stoull(s->substr(0, digits));
    if (count > kMax / scale) Fail(path, what);
    bytes = count * scale;
  } else {
    Fail(path, what);
  }
  if (bytes < kMin || bytes > kMax) Fail(path, what);
  return bytes;
}

// A kind's command controls (docs/jobs.md, "Commands under control"): nice, rlimits, cwd,
// env_allow and env. Whether cwd exists is checked by `spindle serve`, where the command runs.
void ReadCommandControls(const std::string& path, const toml::table& t, const std::string& at,
                         CommandOptions* c) {
  if (auto v = Int(path, t, "nice", at, 0, 19)) c->nice = static_cast<int>(*v);
  if (const auto* n = t.get("rlimits")) {
    const std::string in = at + "rlimits.";
    const auto* l = n->as_table();
    if (l == nullptr) Fail(path, fmt::format("'{}rlimits' must be a table", at));
    OnlyKeys(path, *l, in, {"cpu", "memory", "files"});
    if (auto v = Dur(path, *l, "cpu", in)) {
      if (v->count() % 1000 != 0) {
        Fail(path, fmt::format("'{}cpu' must be whole seconds (\"30s\", \"2m\"), got \"{}\"",
                               in, *Str(path, *l, "cpu", in)));
      }
      c->rlimits.cpu = std::chrono::duration_cast<std::chrono::seconds>(*v);
    }
    if (const auto* m = l->get("memory")) c->rlimits.memory = ReadBytes(path, *m, in + "memory");
    if (auto v = Int(path, *l, "files", in, 3, 1 << 30)) c->rlimits.files = static_cast<uint64_t>(*v);
  }
  if (auto v = Str(path, t, "cwd", at)) {
    if (v->empty()) Fail(path, fmt::format("'{}cwd' must name a directory", at));
    c->cwd = *v;
  }
  if (t.get("env_allow")) {
    c->env_allow = Strings(path, t, "env_allow", at, false);
    for (const auto& name : *c->env_allow) {
      if (!runtime::IsEnvPattern(name)) {
        Fail(path, fmt::format("'{}env_allow' entry \"{}\" must be a variable name, or a prefix "
                               "followed by '*' (\"LC_*\")",
                               at, name));
      }
    }
  }
  if (const auto* n = t.get("env")) {
    const auto* e = n->as_table();
    if (e == nullptr) Fail(path, fmt::format("'{}env' must be a table of strings", at));
    for (const auto& [name, value] : *e) {
      const std::string key(name.str());
      auto v = value.value_exact<std::string>();
      if (!v) {
        Fail(path, fmt::format("'{}env.{}' must be a string, got {}", at, key, Shown(value)));
      }
      if (key.find('=') != std::string::npos) {
        Fail(path, fmt::format("'{}env.{}': a variable name cannot have '='", at, key));
      }
      c->env[key] = *v;
    }
  }
}

// [http] (docs/api.md, "Serving"): the HTTP server's address, its tokens and limits.
http::ServerOptions ReadHttp(const std::string& path, const toml::table& t) {
  const std::string at = "http.";
  OnlyKeys(path, t, at,
           {"listen", "read_only", "max_body_bytes", "threads", "io_timeout", "stats_interval",
            "stats_window", "tokens"});
  http::ServerOptions o;
  if (auto v = Str(path, t, "listen", at)) o.listen = *v;
  if (auto v = Bool(path, t, "read_only", at)) o.read_only = *v;
  if (auto v = Int(path, t, "max_body_bytes", at, 1024, int64_t{1} << 30)) o.max_body_bytes = *v;
  if (auto v = Int(path, t, "threads", at, 2, 1000)) o.threads = static_cast<int>(*v);
  if (auto v = Dur(path, t, "io_timeout", at)) o.io_timeout = *v;
  if (auto v = Dur(path, t, "stats_interval", at)) o.stats_interval = *v;
  if (auto v = Dur(path, t, "stats_window", at)) o.stats_window = *v;
  if (const auto* n = t.get("tokens")) {
    const auto* arr = n->as_array();
    if (!arr) Fail(path, "'http.tokens' must be an array of tables ([[http.tokens]])");
    for (size_t i = 0; i < arr->size(); ++i) {
      std::string where = fmt::format("http.tokens[{}].", i);
      const auto* tt = (*arr)[i].as_table();
      if (!tt) Fail(path, fmt::format("'http.tokens[{}]' must be a table", i));
      OnlyKeys(path, *tt, where, {"name", "sha256", "scope"});
      http::Token token;
      token.name = Str(path, *tt, "name", where).value_or("");
      token.sha256 = Str(path, *tt, "sha256", where).value_or("");
      std::string scope = Str(path, *tt, "scope", where).value_or("");
      auto parsed = http::ParseScope(scope);
      if (!parsed) {
        Fail(path, fmt::format("'{}scope' must be read, operate or admin, got \"{}\"", where, scope));
      }
      token.scope = *parsed;
      o.tokens.push_back(std::move(token));
    }
  }
  return o;
}

}  // namespace

Config LoadConfig(const std::string& path) {
  bool shared_at = false;  // [worker] share_interval given
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    Fail(path, fmt::format("line {}, column {}: {}", src.begin.line, src.begin.column,
                           e.description()));
  }
  Config c;
  c.worker.queues.clear();
  OnlyKeys(path, root, "",
           {"database", "log_level", "worker", "cluster", "queues", "kinds", "assignments",
            "schedules", "retention", "limits", "pools", "http"});
  c.database = Str(path, root, "database", "");
  if (const auto* h = Table(path, root, "http")) c.http = ReadHttp(path, *h);
  c.log_level = Str(path, root, "log_level", "");

  if (const auto* w = Table(path, root, "worker")) {
    const std::string at = "worker.";
    OnlyKeys(path, *w, at,
             {"id", "lease", "poll_interval", "poll_interval_no_notify", "rescue_interval",
              "default_timeout", "shutdown_grace", "fetch_batch_max", "slots", "share_interval"});
    auto& o = c.worker;
    if (auto v = Str(path, *w, "id", at)) o.id = *v;
    if (auto v = Dur(path, *w, "lease", at)) o.lease = *v;
    if (auto v = Dur(path, *w, "poll_interval", at)) o.poll_interval = *v;
    if (auto v = Dur(path, *w, "poll_interval_no_notify", at)) o.poll_interval_no_notify = *v;
    if (auto v = Dur(path, *w, "rescue_interval", at)) o.rescue_interval = *v;
    if (auto v = Dur(path, *w, "default_timeout", at)) o.default_timeout = *v;
    if (auto v = Dur(path, *w, "shutdown_grace", at, true)) o.shutdown_grace = *v;
    // More than a queue's concurrency is never fetched at once.
    if (auto v = Int(path, *w, "fetch_batch_max", at, 1, kMaxConcurrency)) {
      o.fetch_batch_max = static_cast<int>(*v);
    }
    // Adaptive concurrency (docs/regulation.md): one slot budget shared among the queues.
    if (auto v = Int(path, *w, "slots", at, 0, kMaxConcurrency)) o.slots = static_cast<int>(*v);
    if (auto v = Dur(path, *w, "share_interval", at)) {
      shared_at = true;
      if (*v < Millis(10) || *v > Millis(60000)) {
        Fail(path, fmt::format("'worker.share_interval' must be 10ms to 1m, got {}",
                               core::FormatDuration(*v)));
      }
      o.share_interval = *v;
    }
  }
  if (const auto* cl = Table(path, root, "cluster")) {
    const std::string at = "cluster.";
    OnlyKeys(path, *cl, at,
             {"roles", "partition", "heartbeat_interval", "heartbeat_timeout", "partition_timeout",
              "leader_ttl", "stability_period"});
    auto& o = c.worker.cluster;
    o.roles = Strings(path, *cl, "roles", at, false);
    if (const auto* p = cl->get("partition")) {
      if (p->value<std::string>() == "auto") {
        o.partition = kAutoPartition;
      } else if (auto v = p->value<int64_t>();
                 p->is_integer() && *v >= 1 && *v <= kMaxPartition) {
        o.partition = static_cast<int>(*v);
      } else {
        Fail(path, fmt::format("'{}partition' must be {}, or \"auto\", got {}", at,
                               core::DescribeRange(1, kMaxPartition), Shown(*p)));
      }
    }
    if (auto v = Dur(path, *cl, "heartbeat_interval", at)) o.heartbeat_interval = *v;
    if (auto v = Dur(path, *cl, "heartbeat_timeout", at)) o.heartbeat_timeout = *v;
    if (auto v = Dur(path, *cl, "partition_timeout", at)) o.partition_timeout = *v;
    if (auto v = Dur(path, *cl, "leader_ttl", at)) o.leader_ttl = *v;
    if (auto v = Dur(path, *cl, "stability_period", at, true)) o.stability_period = *v;
  }
  if (const auto* r = Table(path, root, "retention")) {
    const std::string at = "retention.";
    OnlyKeys(path, *r, at,
             {"completed", "failed", "cancelled", "expired", "audit", "interval", "batch"});
    auto& o = c.worker.retention;
    // An age: a duration, or 0, "0" or "forever" to keep such jobs until deleted by hand.
    auto age = [&](const char* key, Millis& out) {
      const std::string what = "a duration (\"24h\"), or 0 or \"forever\" to keep them";
      if (const auto* n = r->get(key); n && !n->is_string()) {
        if (n->is_integer() && n->value<int64_t>() == 0) {
          out = Millis(0);
          return;
        }
        Fail(path, fmt::format("'{}{}' must be {}", at, key, what));
      }
      auto s = Str(path, *r, key, at);
      if (!s) return;
      if (*s == "0" || *s == "forever") {
        out = Millis(0);
        return;
      }
      try {
        out = *Dur(path, *r, key, at, true);
      } catch (const Error& e) {
        throw Error(e.code(), fmt::format("{} ({})", e.what(), what));
      }
      // "0s" could mean "at once" as well as "keep": neither is guessed.
      if (out == Millis(0)) {
        Fail(path, fmt::format("'{}{}' = \"{}\": an age must be longer than 0s; to keep them until "
                               "deleted by hand, write 0 or \"forever\"",
                               at, key, *s));
      }
    };
    age("completed", o.completed);
    age("failed", o.failed);
    age("cancelled", o.cancelled);
    age("expired", o.expired);
    age("audit", o.audit);
    if (auto v = Dur(path, *r, "interval", at)) o.interval = *v;
    if (auto v = Int(path, *r, "batch", at, 1, 100000)) o.batch = static_cast<int>(*v);
  }
  if (const auto* as = Table(path, root, "assignments")) {
    for (const auto& [name, node] : *as) {
      const std::string at = fmt::format("assignments.{}.", name.str());
      if (!node.is_table()) Fail(path, fmt::format("'assignments.{}' must be a table", name.str()));
      const auto& t = *node.as_table();
      OnlyKeys(path, t, at, {"role", "command", "kill_grace"});
      AssignmentConfig a;
      auto role = Str(path, t, "role", at);
      if (!role || role->empty()) Fail(path, fmt::format("'{}role' is required", at));
      a.role = *role;
      a.command.argv = Strings(path, t, "command", at, true);
      if (auto v = Dur(path, t, "kill_grace", at, true)) a.command.kill_grace = *v;
      c.assignments[std::string(name.str())] = std::move(a);
    }
  }
  if (const auto* ls = Table(path, root, "limits")) {
    for (const auto& [name, node] : *ls) {
      const std::string at = fmt::format("limits.{}.", name.str());
      if (!node.is_table()) Fail(path, fmt::format("'limits.{}' must be a table", name.str()));
      const auto& t = *node.as_table();
      OnlyKeys(path, t, at, {"capacity", "key", "queue", "kind", "per"});
      Limit l{.name = std::string(name.str())};
      for (const char* prefix : {"queue:", "kind:", "pool:", "rate:"}) {
        if (l.name.starts_with(prefix)) {
          Fail(path, fmt::format("'limits.{}': names that begin with \"{}\" are the ones that "
                                 "[queues], [kinds] and [pools] give their limits (queue:, kind:, "
                                 "rate:, pool:); choose another",
                                 l.name, prefix));
        }
      }
      auto capacity = Int(path, t, "capacity", at, 1, 1000000);
      if (!capacity) Fail(path, fmt::format("'{}capacity' is required", at));
      l.capacity = static_cast<int>(*capacity);
      l.key = Str(path, t, "key", at);
      l.queue = Str(path, t, "queue", at);
      l.kind = Str(path, t, "kind", at);
      l.per = Dur(path, t, "per", at);
      if (l.per && *l.per > kMaxRatePer) {
        Fail(path, fmt::format("'{}per' must be 1ms to 30 days, got \"{}\"", at,
                               *Str(path, t, "per", at)));
      }
      try {
        l.Validate();
      } catch (const Error& e) {
        Fail(path, e.what());
      }
      c.worker.limits.push_back(std::move(l));
    }
  }
  // Resource pools (docs/regulation.md): `[pools] gpu = 2`; the kinds that use one say how many
  // units a job takes (`pools = { gpu = 1 }`), and each pool is the limit `pool:NAME`.
  std::map<std::string, Limit> pools;
  if (const auto* ps = Table(path, root, "pools")) {
    for (const auto& [name, node] : *ps) {
      // The limit's name is pool:NAME, at most 100 characters.
      if (name.str().empty() || name.str().size() > 95 ||
          name.str().find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789_-.") != std::string_view::npos) {
        Fail(path, fmt::format("pool '{}': a pool's name must be 1 to 95 letters, digits, '_', "
                               "'-' or '.'",
                               name.str()));
      }
      auto capacity = Int(path, *ps, std::string(name.str()), "pools.", 1, 1000000);
      pools[std::string(name.str())] = {.name = "pool:" + std::string(name.str()),
                                        .capacity = static_cast<int>(*capacity)};
    }
  }
  if (const auto* qs = Table(path, root, "queues")) {
    for (const auto& [name, node] : *qs) {
      const std::string at = fmt::format("queues.{}.", name.str());
      if (!node.is_table()) Fail(path, fmt::format("'queues.{}' must be a table", name.str()));
      const auto& t = *node.as_table();
      OnlyKeys(path, t, at,
               {"concurrency", "order", "shed", "limit", "rate", "fair_key", "fair_weights",
                "weight"});
      QueueOptions q;
      q.name = name.str();
      if (auto rate = Rate(path, t, at, "rate:queue:" + q.name)) {
        rate->queue = q.name;
        c.worker.limits.push_back(std::move(*rate));
      }
      // Regulation (docs/regulation.md): at most `limit` of its jobs run at once, cluster-wide.
      if (auto v = Int(path, t, "limit", at, 1, 1000000)) {
        c.worker.limits.push_back(
            {.name = "queue:" + q.name, .capacity = static_cast<int>(*v), .queue = q.name});
      }
      if (auto v = Int(path, t, "concurrency", at, 1, kMaxConcurrency)) {
        q.concurrency = static_cast<int>(*v);
      }
      if (auto v = Int(path, t, "weight", at, 1, 1000)) q.weight = static_cast<int>(*v);
      // Deadlines (docs/jobs.md): the fetch order within each priority, and shedding.
      if (auto v = Str(path, t, "order", at)) {
        auto order = ParseQueueOrder(*v);
        if (!order) {
          Fail(path, fmt::format("'{}order' must be \"fifo\" or \"deadline\", got \"{}\"", at, *v));
        }
        q.order = *order;
      }
      if (auto v = Bool(path, t, "shed", at)) q.shed = *v;
      // Fair shares (docs/regulation.md): tenants named by a path into the args, weighted.
      q.fair_key = Str(path, t, "fair_key", at);
      if (const auto* ws = Table(path, t, "fair_weights", at)) {
        for (const auto& [tenant, w] : *ws) {
          if (!w.is_number()) {
            Fail(path, fmt::format("'{}fair_weights.{}' must be a number, got {}", at,
                                   tenant.str(), Shown(w)));
          }
          q.fair_weights[std::string(tenant.str())] = w.value<double>().value_or(0);
        }
      }
      try {
        q.Settings().Validate(q.name);
      } catch (const Error& e) {
        Fail(path, e.what());
      }
      c.worker.queues.push_back(q);
    }
  }
  if (const auto* ks = Table(path, root, "kinds")) {
    for (const auto& [name, node] : *ks) {
      const std::string at = fmt::format("kinds.{}.", name.str());
      if (!node.is_table()) Fail(path, fmt::format("'kinds.{}' must be a table", name.str()));
      const auto& t = *node.as_table();
      OnlyKeys(path, t, at,
               {"command", "timeout", "kill_grace", "max_attempts", "queue", "priority",
                "serial", "limit", "rate", "pools", "nice", "rlimits", "cwd", "env_allow", "env",
                "helper", "max_jobs_per_process"});
      KindConfig k;
      if (const auto* uses = Table(path, t, "pools", at)) {
        for (const auto& [pool, n] : *uses) {
          auto it = pools.find(std::string(pool.str()));
          if (it == pools.end()) {
            Fail(path, fmt::format("'{}pools' names the pool '{}', which [pools] does not declare",
                                   at, pool.str()));
          }
          auto v = Int(path, *uses, std::string(pool.str()), at + "pools.", 1, 1000000);
          it->second.units[std::string(name.str())] = static_cast<int>(*v);
        }
      }
      if (auto rate = Rate(path, t, at, "rate:kind:" + std::string(name.str()))) {
        rate->kind = std::string(name.str());
        c.worker.limits.push_back(std::move(*rate));
      }
      if (auto v = Int(path, t, "limit", at, 1, 1000000)) {
        c.worker.limits.push_back({.name = "kind:" + std::string(name.str()),
                                   .capacity = static_cast<int>(*v),
                                   .kind = std::string(name.str())});
      }
      if (t.get("command")) k.command.argv = Strings(path, t, "command", at, true);
      k.defaults.timeout = Dur(path, t, "timeout", at);
      k.command.timeout = k.defaults.timeout;
      if (auto v = Dur(path, t, "kill_grace", at, true)) k.command.kill_grace = *v;
      ReadCommandControls(path, t, at, &k.command);
      if (auto v = Bool(path, t, "helper", at)) k.command.helper = *v;
      if (auto v = Int(path, t, "max_jobs_per_process", at, 1, kIntMax)) {
        if (!k.command.helper) {
          Fail(path, fmt::format("'{}max_jobs_per_process' recycles a long-lived helper: set "
                                 "'{}helper = true' too",
                                 at, at));
        }
        k.command.max_jobs_per_process = static_cast<int>(*v);
      }
      if (k.command.helper && k.command.argv.empty()) {
        Fail(path, fmt::format("'{}helper' needs a command", at));
      }
      if (auto v = Int(path, t, "max_attempts", at, 1, kIntMax)) {
        k.defaults.max_attempts = static_cast<int>(*v);
      }
      if (auto v = Int(path, t, "priority", at, kIntMin, kIntMax)) {
        k.defaults.priority = static_cast<int>(*v);
      }
      k.defaults.queue = Str(path, t, "queue", at);
      if (k.defaults.queue && (k.defaults.queue->empty() || k.defaults.queue->size() > 255)) {
        Fail(path, fmt::format("'{}queue' must be 1 to 255 characters", at));
      }
      if (auto v = Str(path, t, "serial", at)) {
        k.defaults.serial = ParseSerialPolicy(*v);
        if (!k.defaults.serial) {
          Fail(path, fmt::format("'{}serial' must be \"block\" or \"continue\", got \"{}\"", at, *v));
        }
      }
      c.worker.kinds[std::string(name.str())] = k.defaults;
      c.kinds[std::string(name.str())] = std::move(k);
    }
  }
  for (auto& [name, pool] : pools) {
    if (pool.units.empty()) {
      Fail(path, fmt::format("pool '{}' is used by no kind: give a kind `pools = {{ {} = 1 }}`",
                             name, name));
    }
    try {
      pool.Validate();
    } catch (const Error& e) {
      Fail(path, e.what());
    }
    c.worker.limits.push_back(std::move(pool));
  }
  // A file with a [schedules] table owns the set: `spindle serve` removes the others.
  if (const auto* ss = Table(path, root, "schedules")) {
    c.worker.schedules.emplace();
    for (const auto& [name, node] : *ss) {
      if (!node.is_table()) {
        Fail(path, fmt::format("'schedules.{}' must be a table", name.str()));
      }
      c.worker.schedules->push_back(ReadSchedule(path, std::string(name.str()), *node.as_table()));
    }
  }
  // Every queue a kind names is served; a configuration without queues serves "default".
  for (const auto& [name, k] : c.kinds) {
    std::string q = k.defaults.queue.value_or(kDefaultQueue);
    bool known = false;
    for (const auto& existing : c.worker.queues) known |= existing.name == q;
    if (!known) c.worker.queues.push_back(QueueOptions{q, 10});
  }
  if (c.worker.queues.empty()) c.worker.queues.push_back(QueueOptions{});
  // Adaptive concurrency (docs/regulation.md): a slot for every queue, weights only with slots.
  int queues = static_cast<int>(c.worker.queues.size());
  if (c.worker.slots > 0 && c.worker.slots < queues) {
    std::vector<std::string> names;
    for (const auto& q : c.worker.queues) names.push_back(q.name);
    Fail(path, fmt::format("'worker.slots' is {}, fewer than the {} queues this worker serves "
                           "({}; a kind's queue counts too); give at least one slot per queue "
                           "(better a few)",
                           c.worker.slots, queues, fmt::join(names, ", ")));
  }
  if (c.worker.slots == 0 && shared_at) {
    Fail(path, "'worker.share_interval' applies only with [worker] slots (adaptive concurrency); "
               "set slots or remove it");
  }
  for (const auto& q : c.worker.queues) {
    if (c.worker.slots == 0 && q.weight != 1) {
      Fail(path, fmt::format("'queues.{}.weight' applies only with [worker] slots (adaptive "
                             "concurrency); set slots or remove the weight",
                             q.name));
    }
  }
  return c;
}

}  // namespace spindle::cli

#include "regulation/admission.h"

#include <algorithm>

namespace spindle::regulation {

std::optional<std::string> GateOf(const Limit& limit, std::string_view kind,
                                  std::string_view queue, const Json& args) {
  if (limit.queue && *limit.queue != queue) return std::nullopt;
  if (limit.kind && *limit.kind != kind) return std::nullopt;
  if (!limit.units.empty() && !limit.units.contains(std::string(kind))) return std::nullopt;
  if (!limit.key) return limit.name;
  const Json* at = &args;
  std::string_view path = *limit.key;
  while (true) {
    auto dot = path.find('.');
    auto part = std::string(path.substr(0, dot));
    if (!at->is_object()) return std::nullopt;
    auto it = at->find(part);
    if (it == at->end()) return std::nullopt;
    at = &*it;
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  if (at->is_null()) return std::nullopt;
  return limit.name + "/" + (at->is_string() ? at->get<std::string>() : at->dump());
}

std::string_view LimitOfGate(std::string_view gate) { return gate.substr(0, gate.find('/')); }

RateLog RateLog::Parse(std::string_view text) {
  RateLog log;
  auto j = Json::parse(text, nullptr, false);
  if (!j.is_array()) return log;
  for (const auto& e : j) {
    if (e.is_array() && e.size() == 2 && e[0].is_number_integer() && e[1].is_number_integer()) {
      log.starts_.emplace_back(e[0].get<int64_t>(), e[1].get<int64_t>());
    }
  }
  return log;
}

std::string RateLog::Text() const { return Json(starts_).dump(); }

void RateLog::Expire(int64_t now, int64_t per) {
  auto kept = std::find_if(starts_.begin(), starts_.end(),
                           [&](const auto& s) { return s.first + per > now; });
  starts_.erase(starts_.begin(), kept);
}

int64_t RateLog::Used() const {
  int64_t n = 0;
  for (const auto& s : starts_) n += s.second;
  return n;
}

void RateLog::Add(int64_t now, int64_t n, int64_t per) {
  if (n <= 0) return;
  // Up to the next multiple of per/200: later, never earlier, so a start may leave the window
  // late, never early; and the starts of one such step share an entry that does not move.
  int64_t step = std::max<int64_t>(per / 200, 1);
  int64_t at = (now + step - 1) / step * step;
  if (!starts_.empty() && starts_.back().first >= at) {
    starts_.back().second += n;
  } else {
    starts_.emplace_back(at, n);
  }
}

std::optional<int64_t> RateLog::NextFree(int64_t per) const {
  if (starts_.empty()) return std::nullopt;
  return starts_.front().first + per;
}

std::optional<int64_t> RateLog::Idle(int64_t per) const {
  if (starts_.empty()) return std::nullopt;
  return starts_.back().first + per;
}

Admission::Admission(std::vector<Limit> limits) : limits_(std::move(limits)) {
  for (const auto& l : limits_) capacity_[l.name] = l.capacity;
}

std::vector<std::string> Admission::Gates(const Candidate& c) const {
  std::vector<std::string> gates;
  for (const auto& l : limits_) {
    if (auto g = GateOf(l, c.kind, c.queue, c.args)) {
      gates.insert(gates.end(), l.UnitsOf(c.kind), *g);
    }
  }
  std::sort(gates.begin(), gates.end());
  return gates;
}

std::vector<Decision> Admission::Decide(std::vector<std::vector<std::string>> gates,
                                        std::map<std::string, GateState> state) const {
  std::vector<Decision> decisions;
  decisions.reserve(gates.size());
  for (auto& g : gates) {
    Decision d;
    // `g` is sorted, so a gate the job takes n units of is n equal entries in a row.
    for (size_t i = 0, n; i < g.size(); i += n) {
      n = 1;
      while (i + n < g.size() && g[i + n] == g[i]) ++n;
      auto [it, unseen] = state.try_emplace(g[i]);
      if (unseen) {
        auto cap = capacity_.find(LimitOfGate(g[i]));
        if (cap != capacity_.end()) it->second.capacity = cap->second;
      }
      const GateState& s = it->second;
      if (s.capacity && s.held + static_cast<int64_t>(n) > *s.capacity) {
        d.wait = g[i];
        break;
      }
    }
    if (d.wait.empty()) {
      for (const auto& gate : g) ++state[gate].held;
    }
    d.gates = std::move(g);
    decisions.push_back(std::move(d));
  }
  return decisions;
}

RateOpened OpenRateGates(const RateSteps& steps, bool all) {
  auto [now, due] = steps.due(all);
  RateOpened out{.now = now};
  for (auto& g : due) {
    g.log.Expire(now, g.per);
    int64_t spare = std::max<int64_t>(g.capacity - g.log.Used(), 0);
    // The jobs let go start at `now` or later, so with the window then full, the next start
    // frees when the oldest one leaves it, or a whole window from now.
    int64_t at = g.log.NextFree(g.per).value_or(now + g.per);
    auto [n, more] = steps.open(g.gate, spare, at);
    out.opened += n;
    if (more) out.next = std::min(out.next.value_or(at), at);
  }
  return out;
}

std::optional<std::map<std::string, std::vector<std::string>>> KindGates(
    const std::vector<Limit>& limits, const std::string& queue,
    const std::vector<std::string>& kinds) {
  for (const auto& l : limits) {
    if (l.key || l.per) return std::nullopt;
  }
  Admission admission(limits);
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& kind : kinds) out[kind] = admission.Gates({"", kind, queue, Json()});
  return out;
}

std::optional<Millis> Fetch(const std::vector<Limit>& limits, int limit, const FetchSteps& steps) {
  Admission admission(limits);
  std::optional<int64_t> next, now;
  auto until = [&]() -> std::optional<Millis> {
    if (!next) return std::nullopt;
    return Millis(std::max<int64_t>(*next - now.value_or(*next), 0));
  };
  if (std::any_of(limits.begin(), limits.end(), [](const Limit& l) { return l.per; })) {
    auto opened = OpenRateGates(steps.rates, false);
    now = opened.now;
    next = opened.next;
  }
  int leased = 0;
  for (int round = 0; round < 8 && leased < limit; ++round) {
    int want = limit - leased;
    auto candidates = steps.candidates(want);
    if (candidates.empty()) break;
    std::vector<std::vector<std::string>> gates;
    std::set<std::string> all;
    for (const auto& c : candidates) {
      gates.push_back(admission.Gates(c));
      all.insert(gates.back().begin(), gates.back().end());
    }
    auto states = steps.state(all);
    if (!states.gates.empty()) now = states.now;  // else the store may not have read the time
    for (auto& [gate, s] : states.gates) {
      if (!s.per) continue;
      s.log.Expire(states.now, *s.per);
      s.held = s.log.Used();
    }
    auto decisions = admission.Decide(std::move(gates), states.gates);
    std::vector<std::pair<std::string, std::vector<std::string>>> lease;
    std::vector<std::pair<std::string, std::string>> park;
    std::map<std::string, int64_t> started;  // rate gates: how many start now
    std::set<std::string> waited;            // rate gates that parked jobs
    auto is_rate = [&](const std::string& gate) {
      auto it = states.gates.find(gate);
      return it != states.gates.end() && it->second.per;
    };
    for (size_t i = 0; i < candidates.size(); ++i) {
      auto& d = decisions[i];
      if (d.wait.empty()) {
        // A rate gate is not held while the job runs: its start goes in the gate's log.
        std::vector<std::string> held;
        for (auto& g : d.gates) {
          if (is_rate(g)) {
            ++started[g];
          } else {
            held.push_back(std::move(g));
          }
        }
        lease.emplace_back(candidates[i].id, std::move(held));
      } else {
        if (is_rate(d.wait)) waited.insert(d.wait);
        park.emplace_back(candidates[i].id, std::move(d.wait));
      }
    }
    auto [n, leased_at] = steps.apply(lease, park);
    leased += n;
    // A start is its lease: the log takes the lease's time, which is no earlier than the
    // decision's, so a start leaves the window no earlier than its job's started_at says.
    int64_t at = std::max(states.now, leased_at);
    std::vector<RateUpdate> rates;
    for (auto& [gate, s] : states.gates) {
      if (!started.contains(gate) && !waited.contains(gate)) continue;
      s.log.Add(at, started[gate], *s.per);
      RateUpdate u{gate, s.log.Text(), std::nullopt, s.log.Idle(*s.per).value_or(at)};
      if (waited.contains(gate)) {
        u.opens_at = s.log.NextFree(*s.per).value_or(at + *s.per);
        next = std::min(next.value_or(*u.opens_at), *u.opens_at);
      }
      rates.push_back(std::move(u));
    }
    if (!rates.empty()) steps.record(rates);
    if (park.empty() || static_cast<int>(candidates.size()) < want) break;
  }
  return until();
}

std::optional<std::string> UnitsText(const Limit& limit) {
  if (limit.units.empty()) return std::nullopt;
  return Json(limit.units).dump();
}

std::map<std::string, int> UnitsOf(const std::optional<std::string>& text) {
  if (!text) return {};
  return Json::parse(*text).get<std::map<std::string, int>>();
}

int64_t StartsWithin(const std::optional<std::string>& logs, std::optional<Millis> per,
                     int64_t now) {
  if (!logs || !per) return 0;
  auto all = Json::parse(*logs, nullptr, false);
  if (!all.is_array()) return 0;
  int64_t n = 0;
  for (const auto& text : all) {
    if (!text.is_string()) continue;
    auto log = RateLog::Parse(text.get<std::string>());
    log.Expire(now, per->count());
    n += log.Used();
  }
  return n;
}

int64_t EpochMillis(SysTime t) {
  return std::chrono::floor<Millis>(t.time_since_epoch()).count();
}

int64_t EpochMillisUp(SysTime t) { return std::chrono::ceil<Millis>(t.time_since_epoch()).count(); }

std::vector<Limit> LimitsFor(const std::vector<Limit>& limits, const std::string& queue,
                             const std::vector<std::string>& kinds) {
  std::vector<Limit> out;
  for (const auto& l : limits) {
    if (l.queue && *l.queue != queue) continue;
    if (l.kind && std::find(kinds.begin(), kinds.end(), *l.kind) == kinds.end()) continue;
    if (!l.units.empty() && std::none_of(kinds.begin(), kinds.end(),
                                         [&](const auto& k) { return l.units.contains(k); })) {
      continue;
    }
    out.push_back(l);
  }
  return out;
}

}  // namespace spindle::regulation

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

void Fetch(const std::vector<Limit>& limits, int limit, const FetchSteps& steps) {
  Admission admission(limits);
  int leased = 0;
  for (int round = 0; round < 8 && leased < limit; ++round) {
    int want = limit - leased;
    auto candidates = steps.candidates(want);
    if (candidates.empty()) return;
    std::vector<std::vector<std::string>> gates;
    std::set<std::string> all;
    for (const auto& c : candidates) {
      gates.push_back(admission.Gates(c));
      all.insert(gates.back().begin(), gates.back().end());
    }
    auto decisions = admission.Decide(std::move(gates), steps.state(all));
    std::vector<std::pair<std::string, std::vector<std::string>>> lease;
    std::vector<std::pair<std::string, std::string>> park;
    for (size_t i = 0; i < candidates.size(); ++i) {
      auto& d = decisions[i];
      if (d.wait.empty()) {
        lease.emplace_back(candidates[i].id, std::move(d.gates));
      } else {
        park.emplace_back(candidates[i].id, std::move(d.wait));
      }
    }
    leased += steps.apply(lease, park);
    if (park.empty() || static_cast<int>(candidates.size()) < want) return;
  }
}

std::optional<std::string> UnitsText(const Limit& limit) {
  if (limit.units.empty()) return std::nullopt;
  return Json(limit.units).dump();
}

std::map<std::string, int> UnitsOf(const std::optional<std::string>& text) {
  if (!text) return {};
  return Json::parse(*text).get<std::map<std::string, int>>();
}

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

#include "http/failures.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "core/time.h"
#include "spindle/error.h"

namespace spindle::http {
namespace {

constexpr int kPage = 1000;

bool IdChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }

// One word of an error ([A-Za-z0-9_-]+) with its variable parts masked.
std::string MaskWord(std::string_view w) {
  bool digit = std::any_of(w.begin(), w.end(), [](char c) { return std::isdigit(c); });
  if (!digit) return std::string(w);
  size_t hex = std::count_if(w.begin(), w.end(), [](char c) { return std::isxdigit(c); });
  size_t dashes = std::count(w.begin(), w.end(), '-');
  if (hex >= 8 && hex + dashes == w.size()) return "<id>";
  std::string out;
  for (size_t i = 0; i < w.size();) {
    if (std::isdigit(static_cast<unsigned char>(w[i]))) {
      while (i < w.size() && std::isdigit(static_cast<unsigned char>(w[i]))) ++i;
      out += 'N';
    } else {
      out += w[i++];
    }
  }
  return out;
}

// FNV-1a, 64 bits: stable everywhere, unlike std::hash.
uint64_t Fnv1a(std::string_view text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string LatestError(const Job& job) {
  return job.errors.empty() ? std::string("(no error recorded)") : job.errors.back().message;
}

std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > 300) line = line.substr(0, 300) + "…";
  return line;
}

// Reads the failed jobs of `filter`, newest first, a page at a time, until `visit` returns false
// or none are left. Returns whether all were read.
bool EachFailed(Client& client, JobFilter filter, const std::function<bool(const Job&)>& visit) {
  filter.states = {JobState::kFailed};
  filter.limit = kPage;
  filter.after_id.clear();
  for (;;) {
    auto page = client.List(filter);
    for (const auto& job : page) {
      if (!visit(job)) return false;
    }
    if (static_cast<int>(page.size()) < kPage) return true;
    filter.after_id = page.back().id;
  }
}

}  // namespace

std::string MaskError(std::string_view message) {
  std::string_view line = message.substr(0, message.find('\n'));
  std::string out;
  for (size_t i = 0; i < line.size();) {
    if (!IdChar(line[i])) {
      out += line[i++];
      continue;
    }
    size_t end = i;
    while (end < line.size() && IdChar(line[end])) ++end;
    out += MaskWord(line.substr(i, end - i));
    i = end;
  }
  return out;
}

std::string Fingerprint(const Job& job) {
  return fmt::format("{:016x}", Fnv1a(job.kind + '\n' + MaskError(LatestError(job))));
}

Json GroupFailures(Client& client, const JobFilter& filter, int64_t scan) {
  struct Group {
    std::string kind, message, example, example_id;
    int64_t count = 0;
    SysTime first, last;
  };
  std::map<std::string, Group> groups;
  int64_t scanned = 0;
  bool complete = EachFailed(client, filter, [&](const Job& job) {
    if (scanned == scan) return false;
    ++scanned;
    std::string error = LatestError(job);
    Group& g = groups[Fingerprint(job)];
    SysTime at = job.finished_at.value_or(job.created_at);
    if (g.count++ == 0) {
      g.kind = job.kind;
      g.message = MaskError(error);
      g.first = at;
    }
    g.first = std::min(g.first, at);
    if (g.count == 1 || at > g.last) {  // the example is the latest to fail
      g.last = at;
      g.example = FirstLine(error);
      g.example_id = job.id;
    }
    return true;
  });
  std::vector<std::pair<std::string, Group>> sorted(groups.begin(), groups.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second.count > b.second.count; });
  Json out = Json::array();
  for (const auto& [fp, g] : sorted) {
    out.push_back({{"fingerprint", fp},
                   {"kind", g.kind},
                   {"message", g.message},
                   {"example", g.example},
                   {"example_id", g.example_id},
                   {"count", g.count},
                   {"first_seen", core::FormatRfc3339(g.first)},
                   {"last_seen", core::FormatRfc3339(g.last)}});
  }
  return {{"groups", out}, {"scanned", scanned}, {"complete", complete}};
}

Json ChangeFailureGroup(Client& client, Operations& operations, Client::BulkAction action,
                        const std::string& fingerprint, const std::string& who) {
  bool retry = action == Client::BulkAction::kRetry;
  return operations.Start(
      retry ? "retry_failures" : "delete_failures", 0, who,
      [&client, retry, fingerprint](const Operations::Progress& p) {
        // First the group's ids, then the change: a retried job leaves the failed jobs, which
        // would shift the pages under a walk that changed as it went.
        std::vector<std::string> ids;
        EachFailed(client, JobFilter{}, [&](const Job& job) {
          if (Fingerprint(job) == fingerprint) {
            ids.push_back(job.id);
            if (ids.size() % kPage == 0) p.total(static_cast<int64_t>(ids.size()));
          }
          return true;
        });
        p.total(static_cast<int64_t>(ids.size()));
        int64_t changed = 0;
        for (const auto& id : ids) {
          try {
            retry ? client.Retry(id) : client.Delete(id);
            ++changed;
          } catch (const Error& e) {
            // Retried, deleted or gone meanwhile: skipped, as a bulk change skips it.
            if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kIllegalTransition) {
              throw;
            }
          }
          if (changed % 100 == 0) p.changed(changed);
        }
        p.changed(changed);
      });
}

}  // namespace spindle::http

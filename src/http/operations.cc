#include "http/operations.h"

#include <fmt/format.h>

#include <thread>

#include "core/time.h"
#include "core/uuid.h"
#include "spindle/error.h"

namespace spindle::http {

struct Operations::Op {
  std::string id, action, by;
  std::atomic<int64_t> total{0}, changed{0};
  std::string state = "running", error;  // under mu_
  SysTime started_at;
  std::optional<SysTime> finished_at;
};

namespace {
struct Stopping {};

// Under mu_.
Json Describe(const Operations::Op& op) {
  return Json{{"id", op.id},
              {"action", op.action},
              {"state", op.state},
              {"total", op.total.load()},
              {"changed", op.changed.load()},
              {"error", op.error.empty() ? Json(nullptr) : Json(op.error)},
              {"started_at", core::FormatRfc3339(op.started_at)},
              {"finished_at", core::Rfc3339OrNull(op.finished_at)},
              {"by", op.by}};
}

const char* Name(Client::BulkAction a) {
  switch (a) {
    case Client::BulkAction::kCancel:
      return "cancel";
    case Client::BulkAction::kRetry:
      return "retry";
    case Client::BulkAction::kDelete:
      return "delete";
  }
  return "";
}
}  // namespace

Operations::~Operations() {
  stopping_ = true;
  std::unique_lock lock(mu_);
  ended_.wait(lock, [this] { return running_ == 0; });
}

Json Operations::Start(Client::BulkAction action, const JobFilter& filter, int64_t total,
                       const std::string& who) {
  return Start(Name(action), total, who, [this, action, filter](const Progress& p) {
    client_.ChangeAll(action, filter, 1000, p.changed);
  });
}

Json Operations::Start(const std::string& action, int64_t total, const std::string& who,
                       Work work) {
  auto op = std::make_shared<Op>();
  op->id = core::NewUuidV7();
  op->action = action;
  op->by = who;
  op->total = total;
  op->started_at = std::chrono::system_clock::now();
  std::lock_guard lock(mu_);
  ops_.push_back(op);
  while (ops_.size() > kKept && ops_.front()->state != "running") ops_.pop_front();
  ++running_;
  // Detached: the destructor waits for running_ to reach 0, so no thread outlives this.
  std::thread([this, op, work = std::move(work)] {
    std::string state = "done", error;
    auto check = [this] {
      if (stopping_) throw Stopping{};
    };
    try {
      work(Progress{.total = [&](int64_t n) { op->total = n, check(); },
                    .changed = [&](int64_t n) { op->changed = n, check(); }});
    } catch (const Stopping&) {
      state = "stopped";
    } catch (const std::exception& e) {
      state = "failed";
      error = e.what();
    }
    std::lock_guard lock(mu_);
    op->state = state;
    op->error = error;
    op->finished_at = std::chrono::system_clock::now();
    --running_;
    ended_.notify_all();
  }).detach();
  return Describe(*op);
}

Json Operations::Get(const std::string& id) const {
  std::lock_guard lock(mu_);
  for (const auto& op : ops_) {
    if (op->id != id) continue;
    return Describe(*op);
  }
  throw Error(ErrorCode::kNotFound,
              fmt::format("unknown operation '{}' (this server keeps its latest {})", id, kKept));
}

Json Operations::List() const {
  std::lock_guard lock(mu_);
  Json out = Json::array();
  for (auto it = ops_.rbegin(); it != ops_.rend(); ++it) out.push_back(Describe(**it));
  return out;
}

}  // namespace spindle::http

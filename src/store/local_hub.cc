#include "store/local_hub.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <utility>

namespace spindle {

struct LocalHub::Subscriber {
  std::mutex mu;
  std::condition_variable cv;
  Notices pending;
};

namespace {

class LocalListener final : public StoreListener {
 public:
  LocalListener(std::shared_ptr<LocalHub> hub, std::shared_ptr<LocalHub::Subscriber> sub)
      : hub_(std::move(hub)), sub_(std::move(sub)) {}

  Notices Wait(Millis timeout) override {
    std::unique_lock lock(sub_->mu);
    sub_->cv.wait_for(lock, timeout,
                      [&] {
                        const Notices& p = sub_->pending;
                        return !p.queues.empty() || p.members || !p.workers.empty();
                      });
    return std::exchange(sub_->pending, Notices{});
  }

 private:
  std::shared_ptr<LocalHub> hub_;  // keeps the hub alive while someone listens
  std::shared_ptr<LocalHub::Subscriber> sub_;
};

}  // namespace

std::shared_ptr<LocalHub> LocalHub::For(const std::string& key) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<LocalHub>> hubs;
  std::lock_guard lock(mu);
  auto& weak = hubs[key];
  auto hub = weak.lock();
  if (!hub) {
    hub = std::make_shared<LocalHub>();
    weak = hub;
  }
  return hub;
}

void LocalHub::Notify(const Notices& notices) {
  if (notices.queues.empty() && !notices.members && notices.workers.empty()) return;
  std::lock_guard lock(mu_);
  std::erase_if(subscribers_, [](const auto& w) { return w.expired(); });
  for (const auto& weak : subscribers_) {
    if (auto sub = weak.lock()) {
      {
        std::lock_guard sub_lock(sub->mu);
        auto& p = sub->pending;
        p.queues.insert(p.queues.end(), notices.queues.begin(), notices.queues.end());
        p.members = p.members || notices.members;
        p.workers.insert(p.workers.end(), notices.workers.begin(), notices.workers.end());
      }
      sub->cv.notify_all();
    }
  }
}

std::unique_ptr<StoreListener> LocalHub::Listen() {
  auto sub = std::make_shared<Subscriber>();
  {
    std::lock_guard lock(mu_);
    subscribers_.push_back(sub);
  }
  return std::make_unique<LocalListener>(shared_from_this(), std::move(sub));
}

}  // namespace spindle

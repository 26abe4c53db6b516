#include "maintenance/expirer.h"

#include "core/log.h"

namespace spindle::maintenance {

std::unique_ptr<runtime::LoopService> NewExpirer(Store& store, std::function<bool()> leader,
                                                 Millis interval) {
  return std::make_unique<runtime::LoopService>(
      "expirer", interval, [&store, leader = std::move(leader)] {
        if (!leader()) return false;
        // Small batches: short transactions, and the next one at once while more are due.
        constexpr int kBatch = 500;
        int n = store.JobExpire(kBatch);
        if (n) core::Log().info("event=expired jobs={}", n);
        return n == kBatch;
      });
}

}  // namespace spindle::maintenance

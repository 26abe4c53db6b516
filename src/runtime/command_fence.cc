#include "runtime/command_fence.h"

#include <sys/mman.h>

#include <mutex>
#include <new>

#include "spindle/error.h"

namespace spindle::runtime {
namespace {

static_assert(std::atomic<int64_t>::is_always_lock_free,
              "a supervisor reads the deadline after fork(): it must not take a lock");

// One page of slots for the whole process: a slot per live CommandFence (one per Worker).
constexpr int kSlots = 4096 / sizeof(std::atomic<int64_t>);

struct Page {
  std::mutex mu;
  std::atomic<int64_t>* slots = nullptr;
  bool used[kSlots] = {};
};

Page& SharedPage() {
  static Page page;
  std::lock_guard lock(page.mu);
  if (!page.slots) {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw Error(ErrorCode::kInternal, "cannot map the command fence page");
    page.slots = static_cast<std::atomic<int64_t>*>(p);
    for (int i = 0; i < kSlots; ++i) new (&page.slots[i]) std::atomic<int64_t>(CommandFence::kNever);
  }
  return page;
}

}  // namespace

CommandFence::CommandFence() {
  Page& page = SharedPage();
  std::lock_guard lock(page.mu);
  for (int i = 0; i < kSlots; ++i) {
    if (!page.used[i]) {
      page.used[i] = true;
      slot_ = &page.slots[i];
      slot_->store(kNever);
      return;
    }
  }
  throw Error(ErrorCode::kInternal, "too many workers in one process");
}

CommandFence::~CommandFence() {
  Page& page = SharedPage();
  std::lock_guard lock(page.mu);
  slot_->store(kNever);
  page.used[slot_ - page.slots] = false;
}

void CommandFence::Set(std::chrono::steady_clock::time_point dead_by) {
  slot_->store(std::chrono::duration_cast<std::chrono::nanoseconds>(dead_by.time_since_epoch())
                   .count());
}

}  // namespace spindle::runtime

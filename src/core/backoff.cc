#include "core/backoff.h"

#include <algorithm>
#include <cmath>

namespace spindle::core {

Millis BackoffDelay(const BackoffOptions& o, int attempt, double unit) {
  double exp = std::min(std::max(attempt - 1, 0), 62);  // 2^62 ms is already centuries
  double d = std::min(static_cast<double>(o.max.count()),
                      static_cast<double>(o.base.count()) * std::pow(2.0, exp));
  double factor = 1.0 + o.jitter * (2.0 * unit - 1.0);
  return Millis(static_cast<int64_t>(std::llround(d * factor)));
}

Millis BackoffDelay(const BackoffOptions& o, int attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return BackoffDelay(o, attempt, std::uniform_real_distribution<double>(0.0, 1.0)(rng));
}

}  // namespace spindle::core

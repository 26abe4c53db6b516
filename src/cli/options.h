// Whole-number options of the command line, parsed strictly (CLI11 alone would read "0x10" as
// 16, "010" as 8, and a wrapped 99999999999999999999), and the limits the command line and the
// configuration share.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/duration.h"

namespace spindle::cli {

// A partition number names one of at most this many workers; the worker's limit on a queue's
// concurrency (src/runtime/worker.cc) is the same number.
constexpr int64_t kMaxPartition = 10000;
constexpr int64_t kMaxConcurrency = 10000;
constexpr int64_t kIntMax = std::numeric_limits<int>::max();
constexpr int64_t kIntMin = std::numeric_limits<int>::min();

// `name` must be a whole number in [min, max]; anything else is a parse error (exit 2) that
// says so. `field` is an int or a std::optional<int> (unset unless given).
template <class Field>
CLI::Option* AddIntOption(CLI::App& app, const std::string& name, Field& field, int64_t min,
                          int64_t max, const std::string& help) {
  return app.add_option_function<std::string>(
      name,
      [&field, name, min, max](const std::string& text) {
        auto v = core::ParseInteger(text, min, max);
        if (!v) {
          // A whole number out of bounds is told the bound it crossed.
          auto any = core::ParseInteger(text, std::numeric_limits<int64_t>::min(),
                                        std::numeric_limits<int64_t>::max());
          std::string want = !any       ? core::DescribeRange(min, max)
                             : *any < min ? fmt::format("at least {}", min)
                                          : fmt::format("at most {}", max);
          throw CLI::ValidationError(fmt::format("{} must be {}, got '{}'", name, want, text));
        }
        field = static_cast<int>(*v);
      },
      help)
      ->type_name("INT");
}

}  // namespace spindle::cli

// /metrics in Prometheus' text format (docs/metrics.md), with prometheus-cpp's registry and
// serializer. What the server measures itself (its requests) is kept between scrapes; the
// cluster's gauges are read from the database at each scrape, and published only by the
// leader's server (or a server without a worker), so that summing over servers does not
// multiply them.
#pragma once

#include <memory>
#include <string>

#include "spindle/client.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Histogram;
}  // namespace prometheus

namespace spindle::http {

class Metrics {
 public:
  // `worker_id`: the worker beside this server (empty: none, `spindle web`).
  Metrics(Client& client, std::string worker_id);
  ~Metrics();

  // One answered request: its route's path template ("unmatched" for none), so labels stay
  // bounded.
  void ObserveRequest(const std::string& method, const std::string& route, int status,
                      double seconds);
  // The text exposition of every metric.
  std::string Scrape();

 private:
  Client& client_;
  std::string worker_id_;
  std::shared_ptr<prometheus::Registry> kept_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
};

}  // namespace spindle::http

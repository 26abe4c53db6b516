// /metrics in Prometheus' text format (docs/metrics.md), with prometheus-cpp's registry and
// serializer. What this process measures itself (Instruments: its worker, its requests) is kept
// between scrapes; the cluster's gauges are read from the database at each scrape, and published only by the
// leader's server (or a server without a worker), so that summing over servers does not
// multiply them.
#pragma once

#include <memory>
#include <string>

#include "http/instruments.h"
#include "spindle/client.h"

namespace spindle::http {

class Metrics {
 public:
  // `worker_id`: the worker beside this server (empty: none, `spindle web`). `instruments`:
  // what this process measures (null: the server's own, of its requests only).
  Metrics(Client& client, std::string worker_id, std::shared_ptr<Instruments> instruments);

  Instruments& instruments() { return *instruments_; }
  // The text exposition of every metric.
  std::string Scrape();

 private:
  Client& client_;
  std::string worker_id_;
  std::shared_ptr<Instruments> instruments_;
};

}  // namespace spindle::http

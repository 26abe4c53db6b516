// `spindle bench`: enqueue throughput (one by one, batched), work throughput of no-op jobs, and
// enqueue-to-start latency at a fixed arrival rate. Prints one JSON line in the format of the
// peer benchmark harness, so Spindle can run beside its peers in one run.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace spindle::cli {

struct BenchOptions {
  int n = 100000;         // jobs for the batch and work phases
  int n_seq = 10000;      // jobs enqueued one at a time
  int batch = 100;        // jobs per batched enqueue call
  int lat_n = 2000;       // jobs in the latency phase
  int lat_rate = 200;     // their arrival rate, jobs/s
  int concurrency = 200;  // worker slots, split evenly between the workers
  int workers = 1;        // workers in the work phase (each its own connections)
  bool partitioned = false;  // the work phase's workers are numbered 1..workers
  // The batch and work phases' jobs spread over this many serial keys, round robin (0: none).
  int serial_keys = 0;
  // The work phase's queue limited to this many running jobs cluster-wide (0: no limit;
  // docs/regulation.md): what a limit costs when it is not the bottleneck.
  int limit = 0;
  // The work phase's workers serve the HTTP API and /metrics (idle, on a free loopback port),
  // each worker observed for its metrics: what serving them costs the drain.
  bool http = false;
  std::string phases = "seq,batch,work,latency";
  std::string label = "spindle";
  bool use_default_database = false;  // allowed to run on the default database
};

void AddBenchOptions(CLI::App& app, BenchOptions& o);
int RunBench(const std::string& database_url, const BenchOptions& o);

}  // namespace spindle::cli

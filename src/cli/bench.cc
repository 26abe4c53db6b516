#include "cli/bench.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/log.h"
#include "spindle/spindle.h"

namespace spindle::cli {
namespace {

using Steady = std::chrono::steady_clock;

double Seconds(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

// Environment variables of the peer harness override the defaults (N, N_SEQ, BATCH, ...).
void FromEnv(const char* name, int& field) {
  if (const char* v = std::getenv(name); v && *v) field = std::atoi(v);
}

bool Has(const std::string& phases, const std::string& p) {
  return ("," + phases + ",").find("," + p + ",") != std::string::npos;
}

WorkerOptions BenchWorker(const std::string& url, const std::string& queue, int concurrency) {
  WorkerOptions w;
  w.database_url = url;
  w.queues = {QueueOptions{queue, concurrency}};
  w.shutdown_grace = Millis(5000);
  return w;
}

// Waits until `done()` or the deadline; false on timeout.
template <typename F>
bool WaitFor(F done, std::chrono::seconds limit) {
  auto deadline = Steady::now() + limit;
  while (!done()) {
    if (Steady::now() > deadline) return false;
    std::this_thread::sleep_for(Millis(2));
  }
  return true;
}

}  // namespace

void AddBenchOptions(CLI::App& app, BenchOptions& o) {
  app.add_option("--n", o.n, "Jobs for the batch and work phases (env N)");
  app.add_option("--n-seq", o.n_seq, "Jobs enqueued one at a time (env N_SEQ)");
  app.add_option("--batch", o.batch, "Jobs per batched enqueue (env BATCH)");
  app.add_option("--lat-n", o.lat_n, "Jobs in the latency phase (env LAT_N)");
  app.add_option("--lat-rate", o.lat_rate, "Arrival rate in the latency phase (env LAT_RATE)");
  app.add_option("--concurrency", o.concurrency, "Worker slots (env SPINDLE_CONCURRENCY)");
  app.add_option("--phases", o.phases, "Any of seq,batch,work,latency (env PHASES)");
  app.add_option("--workers", o.workers, "Workers in the work phase (env SPINDLE_WORKERS)");
  app.add_flag("--partitioned", o.partitioned,
               "Partitioned dispatch in the work phase (env SPINDLE_PARTITIONED=1)");
  app.add_option("--label", o.label, "Name in the JSON line (env BENCH_LABEL)");
}

int RunBench(const std::string& url, const BenchOptions& opts) {
  BenchOptions o = opts;
  FromEnv("N", o.n);
  FromEnv("N_SEQ", o.n_seq);
  FromEnv("BATCH", o.batch);
  FromEnv("LAT_N", o.lat_n);
  FromEnv("LAT_RATE", o.lat_rate);
  FromEnv("SPINDLE_CONCURRENCY", o.concurrency);
  FromEnv("SPINDLE_WORKERS", o.workers);
  if (const char* v = std::getenv("SPINDLE_PARTITIONED"); v && *v) o.partitioned = *v == '1';
  if (const char* v = std::getenv("PHASES"); v && *v) o.phases = v;
  if (const char* v = std::getenv("BENCH_LABEL"); v && *v) o.label = v;
  if (o.n < 1 || o.n_seq < 1 || o.batch < 1 || o.lat_n < 1 || o.lat_rate < 1 ||
      o.concurrency < o.workers || o.workers < 1) {
    throw Error(ErrorCode::kInvalidArgument,
                "bench sizes and rates must be positive, with at least one slot per worker");
  }
  core::Log().set_level(spdlog::level::warn);

  auto client = Client::Open({url});
  // Every run uses queues of its own, so leftovers of other runs do not count.
  std::string run = fmt::format("bench-{:08x}", std::random_device{}());
  Json out = {{"name", o.label},
              {"version", "0.1.0"},
              {"ok", true},
              {"n", o.n},
              {"config",
               {{"concurrency", o.concurrency},
                {"workers", o.workers},
                {"partitioned", o.partitioned},
                {"batch", o.batch},
                {"fetch_batch_max", WorkerOptions{}.fetch_batch_max}}}};

  if (Has(o.phases, "seq")) {
    JobSpec spec{.kind = "noop", .queue = run + "-seq"};
    auto t0 = Steady::now();
    for (int i = 0; i < o.n_seq; ++i) client->Enqueue(spec);
    out["enqueue_seq_jps"] = o.n_seq / Seconds(t0, Steady::now());
  }

  std::string work_queue = run + "-work";
  bool queued = false;
  if (Has(o.phases, "batch") || Has(o.phases, "work")) {
    std::vector<JobSpec> chunk(o.batch, JobSpec{.kind = "noop", .queue = work_queue});
    auto t0 = Steady::now();
    for (int done = 0; done < o.n; done += o.batch) {
      chunk.resize(std::min(o.batch, o.n - done));
      client->EnqueueMany(chunk);
    }
    if (Has(o.phases, "batch")) out["enqueue_batch_jps"] = o.n / Seconds(t0, Steady::now());
    queued = true;
  }

  if (Has(o.phases, "work") && queued) {
    std::atomic<int64_t> calls{0};
    Steady::time_point last_start;
    std::vector<std::unique_ptr<Worker>> workers;
    for (int i = 0; i < o.workers; ++i) {
      auto wo = BenchWorker(url, work_queue, o.concurrency / o.workers);
      if (o.partitioned) wo.cluster.partition = i + 1;
      workers.push_back(std::make_unique<Worker>(wo));
      workers.back()->Register("noop", [&](JobContext&) {
        if (++calls == o.n) last_start = Steady::now();
        return JobResult::Done();
      });
    }
    auto t0 = Steady::now();
    for (auto& w : workers) w->Start();
    auto completed = [&] {
      int64_t n = 0;
      for (auto& w : workers) n += w->stats().completed;
      return n;
    };
    bool finished = WaitFor([&] { return completed() >= o.n; }, std::chrono::seconds(600));
    auto t1 = Steady::now();
    for (auto& w : workers) w->Stop();
    out["work_jps"] = o.n / Seconds(t0, t1);
    if (calls == o.n) out["work_handlers_jps"] = o.n / Seconds(t0, last_start);
    out["work_handler_calls"] = calls.load();
    if (!finished) {
      out["ok"] = false;
      out["error"] = "work phase timed out";
    }
  }

  if (Has(o.phases, "latency")) {
    std::string queue = run + "-latency";
    std::mutex mu;
    std::vector<double> lat_ms;
    Worker worker(BenchWorker(url, queue, o.concurrency));
    worker.Register("latency", [&](JobContext& ctx) {
      auto now = Steady::now().time_since_epoch().count();
      double ms = static_cast<double>(now - ctx.job.args["t"].get<int64_t>()) / 1e6;
      std::lock_guard lock(mu);
      lat_ms.push_back(ms);
      return JobResult::Done();
    });
    worker.Start();
    std::this_thread::sleep_for(Millis(500));  // let the worker settle into idle
    auto start = Steady::now();
    auto gap = std::chrono::nanoseconds(1'000'000'000LL / o.lat_rate);
    for (int i = 0; i < o.lat_n; ++i) {
      std::this_thread::sleep_until(start + gap * i);
      client->Enqueue(JobSpec{.kind = "latency",
                              .args = {{"t", Steady::now().time_since_epoch().count()}},
                              .queue = queue});
    }
    bool finished = WaitFor([&] {
      std::lock_guard lock(mu);
      return static_cast<int>(lat_ms.size()) >= o.lat_n;
    }, std::chrono::seconds(120));
    worker.Stop();
    std::lock_guard lock(mu);
    out["lat_p50_ms"] = Percentile(lat_ms, 0.50);
    out["lat_p95_ms"] = Percentile(lat_ms, 0.95);
    out["lat_p99_ms"] = Percentile(lat_ms, 0.99);
    out["lat_max_ms"] = Percentile(lat_ms, 1.0);
    if (!finished) {
      out["ok"] = false;
      out["error"] = "latency phase timed out";
    }
  }
  std::cout << out.dump() << std::endl;
  return out["ok"].get<bool>() ? 0 : 1;
}

}  // namespace spindle::cli

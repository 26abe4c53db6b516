#include "cli/bench.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/options.h"
#include "core/duration.h"
#include "core/log.h"
#include "http/server.h"
#include "spindle/spindle.h"

namespace spindle::cli {
namespace {

using Steady = std::chrono::steady_clock;

double Seconds(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// The CPU time this process has used (every thread), in seconds. With SQLite the whole engine
// runs in this process, so its CPU time per job shows a change's cost without the disk's
// flush stalls, which spread the jobs/s of runs widely.
double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

// Environment variables of the peer harness override the defaults (N, N_SEQ, BATCH, ...),
// parsed as strictly as the options (with the same ranges).
void FromEnv(const char* name, int& field, int min = 1, int max = kIntMax) {
  const char* v = std::getenv(name);
  if (!v || !*v) return;
  auto n = core::ParseInteger(v, min, max);
  if (!n) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("{} must be {}, got '{}'", name, core::DescribeRange(min, max), v));
  }
  field = static_cast<int>(*n);
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
  AddIntOption(app, "--n", o.n, 1, kIntMax, "Jobs for the batch and work phases (env N)");
  AddIntOption(app, "--n-seq", o.n_seq, 1, kIntMax, "Jobs enqueued one at a time (env N_SEQ)");
  AddIntOption(app, "--batch", o.batch, 1, kIntMax, "Jobs per batched enqueue (env BATCH)");
  AddIntOption(app, "--lat-n", o.lat_n, 1, kIntMax, "Jobs in the latency phase (env LAT_N)");
  AddIntOption(app, "--lat-rate", o.lat_rate, 1, kIntMax,
               "Arrival rate in the latency phase, jobs/s (env LAT_RATE)");
  AddIntOption(app, "--concurrency", o.concurrency, 1, kIntMax,
               "Worker slots (env SPINDLE_CONCURRENCY)");
  app.add_option("--phases", o.phases, "Any of seq,batch,work,latency,soak (env PHASES)");
  AddIntOption(app, "--workers", o.workers, 1, kIntMax,
               "Workers in the work phase (env SPINDLE_WORKERS)");
  app.add_flag("--partitioned", o.partitioned,
               "Partitioned dispatch in the work phase (env SPINDLE_PARTITIONED=1)");
  AddIntOption(app, "--serial-keys", o.serial_keys, 0, kIntMax,
               "Spread the batch and work phases' jobs over this many serial keys (env "
               "SERIAL_KEYS; default 0: none)");
  AddIntOption(app, "--limit", o.limit, 0, 1000000,
               "Limit the work phase's queue to this many running jobs cluster-wide (env "
               "SPINDLE_LIMIT; default 0: none)");
  app.add_flag("--http", o.http,
               "Serve the HTTP API and /metrics beside the work phase's workers, idle");
  app.add_option("--label", o.label, "Name in the JSON line (env BENCH_LABEL)");
  app.add_flag("--use-default-database", o.use_default_database,
               "Run on the default database (sqlite:spindle.db) when none is named");
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
  FromEnv("SERIAL_KEYS", o.serial_keys, 0);
  FromEnv("SPINDLE_LIMIT", o.limit, 0, 1000000);
  if (const char* v = std::getenv("SPINDLE_PARTITIONED"); v && *v) {
    auto on = core::ParseInteger(v, 0, 1);
    if (!on) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("SPINDLE_PARTITIONED must be 0 or 1, got '{}'", v));
    }
    o.partitioned = *on == 1;
  }
  if (const char* v = std::getenv("PHASES"); v && *v) o.phases = v;
  for (size_t at = 0; at <= o.phases.size();) {
    size_t end = std::min(o.phases.find(',', at), o.phases.size());
    std::string phase = o.phases.substr(at, end - at);
    if (phase != "seq" && phase != "batch" && phase != "work" && phase != "latency" &&
        phase != "soak") {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("unknown bench phase '{}' in '{}': phases are seq, batch, work, "
                              "latency and soak, separated by commas",
                              phase, o.phases));
    }
    at = end + 1;
  }
  if (const char* v = std::getenv("BENCH_LABEL"); v && *v) o.label = v;
  if (o.concurrency < o.workers) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("--concurrency ({}) must be at least one slot per worker ({})",
                            o.concurrency, o.workers));
  }
  core::Log().set_level(spdlog::level::warn);

  auto client = Client::Open({url});
  // Every run uses queues of its own, so leftovers of other runs do not count.
  std::string run = fmt::format("bench-{:08x}", std::random_device{}());
  Json out = {{"name", o.label},
              {"version", Client::Version()},
              {"ok", true},
              {"n", o.n},
              {"config",
               {{"concurrency", o.concurrency},
                {"workers", o.workers},
                {"partitioned", o.partitioned},
                {"serial_keys", o.serial_keys},
                {"limit", o.limit},
                {"http", o.http},
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
    double cpu0 = ProcessCpuSeconds();
    for (int done = 0; done < o.n; done += o.batch) {
      chunk.resize(std::min(o.batch, o.n - done));
      for (size_t i = 0; o.serial_keys > 0 && i < chunk.size(); ++i) {
        chunk[i].serial_key = fmt::format("{}-{}", run, (done + i) % o.serial_keys);
      }
      client->EnqueueMany(chunk);
    }
    if (Has(o.phases, "batch")) {
      out["enqueue_batch_jps"] = o.n / Seconds(t0, Steady::now());
      out["enqueue_batch_cpu_us_per_job"] = (ProcessCpuSeconds() - cpu0) * 1e6 / o.n;
    }
    queued = true;
  }

  if (Has(o.phases, "work") && queued) {
    std::atomic<int64_t> calls{0};
    Steady::time_point last_start;
    std::vector<std::unique_ptr<http::Server>> servers;  // --http: one beside each worker
    std::vector<std::unique_ptr<Worker>> workers;
    for (int i = 0; i < o.workers; ++i) {
      auto wo = BenchWorker(url, work_queue, o.concurrency / o.workers);
      if (o.partitioned) wo.cluster.partition = i + 1;
      if (o.limit > 0) {
        wo.limits = {{.name = "queue:" + work_queue, .capacity = o.limit, .queue = work_queue}};
      }
      if (o.http) {
        http::ServerOptions so{.listen = "127.0.0.1:0"};
        so.instruments = std::make_shared<http::Instruments>(&wo);
        wo.observer = so.instruments;
        servers.push_back(std::make_unique<http::Server>(*client, so));
        servers.back()->Start();
      }
      workers.push_back(std::make_unique<Worker>(wo));
      workers.back()->Register("noop", [&](JobContext&) {
        if (++calls == o.n) last_start = Steady::now();
        return JobResult::Done();
      });
    }
    auto t0 = Steady::now();
    double cpu0 = ProcessCpuSeconds();
    for (auto& w : workers) w->Start();
    auto completed = [&] {
      int64_t n = 0;
      for (auto& w : workers) n += w->stats().completed;
      return n;
    };
    bool finished = WaitFor([&] { return completed() >= o.n; }, std::chrono::seconds(600));
    auto t1 = Steady::now();
    double cpu1 = ProcessCpuSeconds();
    for (auto& w : workers) w->Stop();
    out["work_jps"] = o.n / Seconds(t0, t1);
    out["work_cpu_us_per_job"] = (cpu1 - cpu0) * 1e6 / o.n;
    if (calls == o.n) out["work_handlers_jps"] = o.n / Seconds(t0, last_start);
    out["work_handler_calls"] = calls.load();
    if (!finished) {
      out["ok"] = false;
      out["error"] = "work phase timed out";
    }
  }

  if (Has(o.phases, "soak")) {
    // Retention's soak (bench/retention_soak.sh, on demand): --n jobs through one worker that
    // deletes completed jobs 10 s after they finished, enqueued in batches of 1000 at most 20000
    // ahead of it; progress on stderr every 5 s while the script samples the tables' size.
    std::string queue = run + "-soak";
    auto wo = BenchWorker(url, queue, o.concurrency);
    wo.retention = {.completed = Millis(10000), .interval = Millis(1000)};
    Worker worker(wo);
    worker.Register("noop", [](JobContext&) { return JobResult::Done(); });
    worker.Start();
    auto t0 = Steady::now(), shown = t0;
    auto completed = [&] { return worker.stats().completed; };
    auto progress = [&] {
      if (Steady::now() - shown < std::chrono::seconds(5)) return;
      shown = Steady::now();
      std::cerr << fmt::format("soak: {:.0f}s completed={}\n", Seconds(t0, shown), completed());
    };
    std::vector<JobSpec> chunk(1000, JobSpec{.kind = "noop", .queue = queue});
    for (int done = 0; done < o.n; done += static_cast<int>(chunk.size())) {
      WaitFor([&] { progress(); return done - completed() < 20000; }, std::chrono::seconds(600));
      chunk.resize(std::min(1000, o.n - done));
      client->EnqueueMany(chunk);
    }
    bool finished = WaitFor([&] { progress(); return completed() >= o.n; }, std::chrono::seconds(600));
    out["soak_jps"] = o.n / Seconds(t0, Steady::now());
    worker.Stop();
    if (!finished) {
      out["ok"] = false;
      out["error"] = "soak phase timed out";
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
  // It leaves nothing behind: its queues exist only by their jobs, which go now (after the
  // figures, so they do not count).
  int64_t removed = 0;
  for (const char* phase : {"-seq", "-work", "-latency"}) {
    JobFilter mine{.queue = run + phase};
    client->ChangeAll(Client::BulkAction::kCancel, mine);
    removed += client->ChangeAll(Client::BulkAction::kDelete, mine);
  }
  out["removed_jobs"] = removed;
  std::cout << out.dump() << std::endl;
  return out["ok"].get<bool>() ? 0 : 1;
}

}  // namespace spindle::cli

// The `spindle` command: a client of the public API, nothing more.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "cli/bench.h"
#include "cli/config.h"
#include "cli/options.h"
#include "core/duration.h"
#include "core/log.h"
#include "core/time.h"
#include "spindle/spindle.h"

namespace spindle::cli {
namespace {

struct Globals {
  std::string database;
  std::string config_path;
  std::string log_level = "info";
  bool json = false;
  // serve
  std::optional<int> partition;  // kAutoPartition for "auto"
  std::vector<std::string> roles;
};

// The configuration file: --config, else SPINDLE_CONFIG, else none.
std::optional<Config> MaybeConfig(const Globals& g) {
  std::string path = g.config_path;
  if (path.empty()) {
    if (const char* env = std::getenv("SPINDLE_CONFIG")) path = env;
  }
  if (path.empty()) return std::nullopt;
  if (!std::filesystem::exists(path)) {
    throw Error(ErrorCode::kInvalidArgument, "configuration file '" + path + "' does not exist");
  }
  return LoadConfig(path);
}

// The embedded default: a SQLite file in the working directory.
constexpr const char* kDefaultDatabase = "sqlite:spindle.db";

// --database, else SPINDLE_DATABASE, else the configuration's `database`, else the default.
std::string DatabaseUrl(const Globals& g, const std::optional<Config>& config) {
  if (!g.database.empty()) return g.database;
  if (const char* env = std::getenv("SPINDLE_DATABASE"); env && *env) return env;
  if (config && config->database) return *config->database;
  return kDefaultDatabase;
}

// A time for people ("-": none); JsonTime for machines (null: none).
std::string Time(const std::optional<SysTime>& t) { return t ? core::FormatHumanTime(*t) : "-"; }
Json JsonTime(const std::optional<SysTime>& t) {
  return t ? Json(core::FormatRfc3339(*t)) : Json(nullptr);
}

// "3 of 25 used (run 5)": the attempts that count toward max_attempts, and the runs when naps,
// stops, hand-backs or waits for children made more (docs/jobs.md, "Attempts").
std::string Attempts(const Job& j) {
  std::string s = fmt::format("{} of {} used", j.attempts_used, j.max_attempts);
  if (j.attempt != j.attempts_used) s += fmt::format(" (run {})", j.attempt);
  return s;
}

void PrintJob(const Job& j, bool json) {
  if (json) {
    std::cout << j.ToJson().dump() << "\n";
    return;
  }
  std::cout << fmt::format(
      "id:           {}\nkind:         {}\nqueue:        {}\nstate:        {}\n"
      "priority:     {}\nattempts:     {}\nargs:         {}\nrun_at:       {}\n"
      "timeout:      {}\ncreated_at:   {}\nstarted_at:   {}\nfinished_at:  {}\n"
      "lease_owner:  {}\nlease_until:  {}\n",
      j.id, j.kind, j.queue, ToString(j.state), j.priority, Attempts(j), j.args.dump(), Time(j.run_at), j.timeout ? core::FormatDuration(*j.timeout) : "default",
      Time(j.created_at), Time(j.started_at), Time(j.finished_at),
      j.lease_owner.empty() ? "-" : j.lease_owner, Time(j.lease_expires_at));
  if (!j.step.empty()) {
    std::cout << fmt::format("step:         {}\ncheckpoint:   {}\n", j.step, j.checkpoint.dump());
  }
  if (j.progress.is_object()) {
    std::cout << fmt::format("progress:     {:.0f}% {}\n",
                             100 * j.progress.value("fraction", 0.0),
                             j.progress.value("message", ""));
  }
  if (!j.parent_id.empty()) std::cout << fmt::format("parent:       {}\n", j.parent_id);
  if (j.children_total > 0) {
    std::cout << fmt::format("children:     {} ({} unfinished; spindle jobs list --parent {})\n",
                             j.children_total, j.children_pending, j.id);
  }
  if (!j.result.is_null()) std::cout << fmt::format("result:       {}\n", j.result.dump());
  if (!j.errors.empty()) {
    std::cout << "errors:\n";
    for (const auto& e : j.errors) {
      std::cout << fmt::format("  attempt {} at {}: {}\n", e.attempt, Time(e.at), e.message);
    }
  }
}

void PrintJobs(const std::vector<Job>& jobs, bool json) {
  if (json) {
    Json arr = Json::array();
    for (const auto& j : jobs) arr.push_back(j.ToJson());
    std::cout << arr.dump() << "\n";
    return;
  }
  std::cout << fmt::format("{:<36}  {:<20}  {:<12}  {:<10}  {:>8}  {:>8}  {}\n", "ID", "KIND",
                           "QUEUE", "STATE", "ATTEMPTS", "PRIORITY", "RUN_AT");
  for (const auto& j : jobs) {
    // Used of max_attempts, as `jobs show` says them.
    std::cout << fmt::format("{:<36}  {:<20}  {:<12}  {:<10}  {:>8}  {:>8}  {}\n", j.id, j.kind,
                             j.queue, ToString(j.state),
                             fmt::format("{}/{}", j.attempts_used, j.max_attempts), j.priority,
                             Time(j.run_at));
  }
}

void PrintMembers(const Membership& ms, bool json) {
  if (json) {
    Json arr = Json::array();
    for (const auto& m : ms.members) arr.push_back(ToJson(m));
    std::cout << Json{{"version", ms.version}, {"workers", arr}}.dump() << "\n";
    return;
  }
  auto now = std::chrono::system_clock::now();
  auto ago = [](Millis d) { return core::FormatElapsed(d); };
  std::cout << fmt::format("{:<32}  {:<16}  {:>7}  {:>8}  {:>9}  {:<9}  {:<20}  {:<16}  {}\n",
                           "ID", "HOST", "PID", "AGE", "HEARTBEAT", "PARTITION", "QUEUES",
                           "ROLES", "LEADER");
  for (const auto& m : ms.members) {
    auto age = std::chrono::duration_cast<Millis>(now - m.started_at);
    std::string partition =
        m.info.partition ? fmt::format("{}/{}", *m.info.partition, m.partition_count) : "-";
    std::cout << fmt::format("{:<32}  {:<16}  {:>7}  {:>8}  {:>9}  {:<9}  {:<20}  {:<16}  {}\n",
                             m.info.id, m.info.host, m.info.pid, ago(age),
                             ago(m.silent_for) + " ago", partition,
                             fmt::join(m.info.queues, ","),
                             m.info.roles.empty() ? "-" : fmt::format("{}", fmt::join(m.info.roles, ",")),
                             m.leader ? "yes" : "");
  }
  std::cout << fmt::format("{} worker(s), membership version {}\n", ms.members.size(),
                           ms.version);
}

void PrintQueues(const std::vector<QueueInfo>& queues, bool json) {
  static const char* kStates[] = {"available", "scheduled", "running", "retryable",
                                  "completed", "failed",    "cancelled", "stopped"};
  if (json) {
    Json arr = Json::array();
    for (const auto& q : queues) {
      arr.push_back({{"name", q.name},
                     {"paused", q.paused_at.has_value()},
                     {"paused_at", JsonTime(q.paused_at)},
                     {"jobs", q.jobs}});
    }
    std::cout << arr.dump() << "\n";
    return;
  }
  std::cout << fmt::format("{:<24}  {:<6}", "QUEUE", "PAUSED");
  for (const char* st : kStates) std::cout << fmt::format("  {:>9}", st);
  std::cout << "\n";
  for (const auto& q : queues) {
    std::cout << fmt::format("{:<24}  {:<6}", q.name, q.paused_at ? "yes" : "no");
    for (const char* st : kStates) {
      auto it = q.jobs.find(st);
      std::cout << fmt::format("  {:>9}", it == q.jobs.end() ? 0 : it->second);
    }
    std::cout << "\n";
  }
}

void PrintCluster(const ClusterState& c, const Membership& ms, bool json) {
  std::string leader;
  for (const auto& m : ms.members) {
    if (m.leader) leader = m.info.id;
  }
  if (json) {
    std::cout << Json{{"stopped", c.stopped_at.has_value()},
                      {"stopped_at", JsonTime(c.stopped_at)},
                      {"reason", c.stop_reason},
                      {"workers", ms.members.size()},
                      {"leader", leader.empty() ? Json(nullptr) : Json(leader)}}
                     .dump()
              << "\n";
    return;
  }
  if (c.stopped_at) {
    std::cout << fmt::format("stopped since {}: {}\n", Time(c.stopped_at),
                             c.stop_reason.empty() ? "(no reason given)" : c.stop_reason);
  } else {
    std::cout << "running\n";
  }
  std::cout << fmt::format("{} worker(s), leader: {}\n", ms.members.size(),
                           leader.empty() ? "none" : leader);
}

std::unique_ptr<Client> OpenClient(const Globals& g, bool migrate) {
  return Client::Open({DatabaseUrl(g, MaybeConfig(g))}, migrate);
}

const char* SignalName(int sig) {
  switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
  }
  return "unknown";
}

// The second stop signal: handlers that will not stop are not waited for. Whatever must not
// outlive the worker is ended here, before the process exits with 128 + the signal's number.
[[noreturn]] void ExitNow(int sig) {
  core::Log().warn("event=signal signal={} action=exit_now", SignalName(sig));
  Worker::KillCommands();  // their supervisors would, a moment after the exit
  std::_Exit(128 + sig);
}

int Serve(const Globals& g) {
  auto config = MaybeConfig(g);
  WorkerOptions opts = config ? config->worker : WorkerOptions{};
  opts.database_url = DatabaseUrl(g, config);

  // Block the stop signals in every thread; this one waits for them below. SIGHUP (the
  // terminal went away) stops like SIGTERM, unless the worker was started with it ignored
  // (nohup): a blocked signal is delivered even when ignored, so it is left out then.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  struct sigaction hup {};
  if (sigaction(SIGHUP, nullptr, &hup) == 0 && hup.sa_handler != SIG_IGN) {
    sigaddset(&signals, SIGHUP);
  }
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (g.partition) opts.cluster.partition = *g.partition;
  for (const auto& r : g.roles) opts.cluster.roles.push_back(r);

  Worker worker(opts);
  if (config) {
    for (const auto& [kind, k] : config->kinds) {
      if (!k.command.argv.empty()) worker.RegisterCommand(kind, k.command);
    }
    for (const auto& [name, a] : config->assignments) {
      worker.RegisterAssignmentCommand(name, a.role, a.command);
    }
  }
  worker.Start();
  std::string queues;
  for (const auto& q : opts.queues) queues += fmt::format("{}{}={}", queues.empty() ? "" : ",", q.name, q.concurrency);
  core::Log().info("event=serving worker={} queues={}", core::LogValue(worker.id()),
                   core::LogValue(queues));
  int sig = 0;
  sigwait(&signals, &sig);
  core::Log().info("event=signal signal={} action=graceful_stop", SignalName(sig));
  std::thread([signals] {
    int again = 0;
    sigwait(&signals, &again);
    ExitNow(again);
  }).detach();
  worker.Stop();
  return 0;
}

int Enqueue(const Globals& g, JobSpec spec, const std::string& args, const std::string& run_at,
            const std::string& delay, const std::string& timeout, bool queue_set,
            bool attempts_set) {
  try {
    spec.args = Json::parse(args);
  } catch (const Json::exception& e) {  // a syntax error, or a number out of range (1e400)
    throw Error(ErrorCode::kInvalidArgument, fmt::format("--args is not valid JSON: {}", e.what()));
  }
  auto config = MaybeConfig(g);
  if (config) {
    auto it = config->kinds.find(spec.kind);
    if (it == config->kinds.end()) {
      throw Error(ErrorCode::kNotFound, fmt::format("unknown kind '{}': the configuration "
                                                    "declares no [kinds.{}]",
                                                    spec.kind, spec.kind));
    }
    if (!queue_set && it->second.queue) spec.queue = *it->second.queue;
    if (!attempts_set && it->second.max_attempts) spec.max_attempts = *it->second.max_attempts;
  }
  if (!run_at.empty() && !delay.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "give --run-at or --delay, not both");
  }
  // Each option's own message names it.
  auto option = [](const char* name, auto parse) {
    try {
      return parse();
    } catch (const Error& e) {
      throw Error(ErrorCode::kInvalidArgument, fmt::format("{}: {}", name, e.what()));
    }
  };
  if (!run_at.empty()) spec.run_at = option("--run-at", [&] { return core::ParseRfc3339(run_at); });
  if (!delay.empty()) {
    spec.run_at = std::chrono::system_clock::now() +
                  option("--delay", [&] { return core::ParseDuration(delay); });
  }
  if (!timeout.empty()) {
    spec.timeout = option("--timeout", [&] { return core::ParseDuration(timeout); });
    if (*spec.timeout == Millis(0)) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("--timeout must be longer than 0s, got '{}'", timeout));
    }
  }
  spec.Validate();
  auto client = Client::Open({DatabaseUrl(g, config)});
  std::string id = client->Enqueue(spec);
  if (g.json) {
    std::cout << Json{{"id", id}}.dump() << "\n";
  } else {
    std::cout << id << "\n";
  }
  return 0;
}

int ExitCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 2;
    case ErrorCode::kNotFound: return 3;
    case ErrorCode::kIllegalTransition: return 4;
    case ErrorCode::kUnavailable: return 5;
    case ErrorCode::kSchemaTooNew: return 6;
    case ErrorCode::kInternal: return 1;
  }
  return 1;
}

int Main(int argc, char** argv) {
  CLI::App app{"Spindle: a durable, distributed job engine"};
  app.require_subcommand(1);
  // Bad arguments read like every other error.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return fmt::format("error: {}\nRun with --help for more information.\n", e.what());
  });
  app.fallthrough();  // global options may also follow the subcommand
  Globals g;
  app.add_option("--database", g.database,
                 "postgresql://... or sqlite:PATH (default: $SPINDLE_DATABASE, then the "
                 "configuration, then sqlite:spindle.db)");
  app.add_option("--config", g.config_path, "TOML configuration (default: $SPINDLE_CONFIG)");
  app.add_option("--log-level", g.log_level, "trace, debug, info, warn, error, off");
  app.add_flag("--json", g.json, "Machine-readable output");

  auto* migrate = app.add_subcommand("migrate", "Apply pending schema migrations");
  auto* serve = app.add_subcommand("serve", "Run a worker until SIGTERM, SIGINT or SIGHUP");
  serve->footer(
      "SIGTERM, SIGINT and SIGHUP each stop the worker gracefully: no new jobs; running jobs\n"
      "get shutdown_grace to finish, the rest are handed back; exit 0. A second signal exits at\n"
      "once. Started with SIGHUP ignored (nohup), the worker leaves it ignored. A closed log\n"
      "pipe does not stop it: records it cannot write are dropped.");
  serve->add_option_function<std::string>(
      "--partition",
      [&g](const std::string& text) {
        if (text == "auto") {
          g.partition = kAutoPartition;
        } else if (auto v = core::ParseInteger(text, 1, kMaxPartition)) {
          g.partition = static_cast<int>(*v);
        } else {
          throw CLI::ValidationError(fmt::format("--partition must be {}, or auto, got '{}'",
                                                 core::DescribeRange(1, kMaxPartition), text));
        }
      },
      "Partitioned dispatch: this worker's number (1, 2, ...) or 'auto'")
      ->type_name("K|auto");
  serve->add_option("--role", g.roles, "A role for assignments (repeatable)");

  auto* workers = app.add_subcommand("workers", "Inspect the cluster");
  workers->require_subcommand(1);
  workers->fallthrough();
  auto* workers_list = workers->add_subcommand("list", "The registered workers");

  auto* enqueue = app.add_subcommand("enqueue", "Enqueue a job; prints its id");
  JobSpec spec;
  std::string args = "{}", run_at, delay, timeout;
  enqueue->add_option("kind", spec.kind, "Job kind")->required();
  enqueue->add_option("--args", args, "Job arguments, a JSON object");
  auto* queue_opt = enqueue->add_option("--queue", spec.queue, "Queue (default: default)");
  AddIntOption(*enqueue, "--priority", spec.priority, kIntMin, kIntMax,
               "Lower runs first (default: 0)");
  enqueue->add_option("--run-at", run_at,
                      "When to run, RFC 3339 with an offset: 2026-01-31T12:00:00Z, "
                      "2026-01-31T14:00:00+02:00, 2026-01-31T12:00:00.250Z");
  enqueue->add_option("--delay", delay, "Run after this long, e.g. 30s, 5m, 1h30m");
  auto* attempts_opt =
      AddIntOption(*enqueue, "--max-attempts", spec.max_attempts, 1, kIntMax, "Default: 25");
  enqueue->add_option("--timeout", timeout, "More than 0, e.g. 30s (default: the worker's)");

  auto* jobs = app.add_subcommand("jobs", "Inspect and steer jobs");
  jobs->require_subcommand(1);
  jobs->fallthrough();
  auto* list = jobs->add_subcommand("list", "List jobs, newest first");
  std::string state, lqueue, kind, parent;
  int limit = 100;
  list->add_option("--state", state, "scheduled, available, running, retryable, completed, ...");
  list->add_option("--queue", lqueue);
  list->add_option("--kind", kind);
  list->add_option("--parent", parent, "Only the children of this job");
  AddIntOption(*list, "--limit", limit, 1, 100000, "At most this many (default: 100)");
  std::string id;
  auto* show = jobs->add_subcommand("show", "Show one job");
  show->add_option("id", id)->required();
  auto* cancel = jobs->add_subcommand("cancel", "Cancel a job that has not finished");
  cancel->add_option("id", id)->required();
  cancel->footer(
      "Applies to: scheduled, available, retryable, waiting, running, stopped. The job becomes\n"
      "cancelled (final), with its unfinished children; a running command gets SIGTERM.");
  auto* retry = jobs->add_subcommand("retry", "Run a completed, failed or cancelled job again");
  retry->add_option("id", id)->required();
  retry->footer(
      "Applies to: completed, failed, cancelled. The job becomes available; one that used all\n"
      "its attempts gets one more (max_attempts + 1).");
  auto* stop = jobs->add_subcommand("stop", "Stop a waiting or running job until resumed");
  stop->add_option("id", id)->required();
  stop->footer(
      "Applies to: scheduled, available, retryable, waiting, running. The job stays stopped\n"
      "until `jobs resume`; a running command gets SIGTERM, and its attempt does not count.");
  auto* resume = jobs->add_subcommand("resume", "Make a stopped job available again");
  resume->add_option("id", id)->required();
  resume->footer(
      "Applies to: stopped. The job becomes available; scheduled if its run_at is still ahead\n"
      "(a job stopped before its time keeps it); waiting while it has unfinished children.");
  auto* wake = jobs->add_subcommand("wake", "End a napping or waiting job's nap now");
  wake->add_option("id", id)->required();
  wake->footer(
      "Applies to: scheduled, retryable, waiting (available at once), and available or running\n"
      "(a running job's next nap ends at once).");

  auto* queues = app.add_subcommand("queues", "Inspect, pause and resume queues");
  queues->require_subcommand(1);
  queues->fallthrough();
  std::string queue_name;
  auto* queues_list = queues->add_subcommand("list", "Queues with their jobs by state");
  auto* queues_pause = queues->add_subcommand("pause", "No new fetches; running jobs finish");
  queues_pause->add_option("name", queue_name)->required();
  auto* queues_resume = queues->add_subcommand("resume", "Fetch from a paused queue again");
  queues_resume->add_option("name", queue_name)->required();

  auto* cluster = app.add_subcommand("cluster", "Stop and resume the whole cluster");
  cluster->require_subcommand(1);
  cluster->fallthrough();
  std::string reason;
  auto* cluster_status = cluster->add_subcommand("status", "Running or stopped, and why");
  auto* cluster_stop =
      cluster->add_subcommand("stop", "Stop fetching; hand back running jobs until resumed");
  cluster_stop->add_option("--reason", reason, "Shown by `cluster status`");
  auto* cluster_resume = cluster->add_subcommand("resume", "Resume a stopped cluster");

  auto* bench = app.add_subcommand("bench", "Measure enqueue and work throughput and latency");
  BenchOptions bo;
  AddBenchOptions(*bench, bo);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is 0; every bad argument is "bad input"
  }

  try {
    core::ConfigureLogging(g.log_level);
    if (auto config = (serve->parsed() ? MaybeConfig(g) : std::nullopt);
        config && config->log_level && g.log_level == "info") {
      core::ConfigureLogging(*config->log_level);
    }
    if (migrate->parsed()) {
      auto client = OpenClient(g, /*migrate=*/true);
      int v = client->SchemaVersion();
      std::cout << (g.json ? Json{{"version", v}}.dump() : fmt::format("schema version {}", v))
                << "\n";
      return 0;
    }
    if (serve->parsed()) return Serve(g);
    if (enqueue->parsed()) {
      return Enqueue(g, spec, args, run_at, delay, timeout, queue_opt->count() > 0,
                     attempts_opt->count() > 0);
    }
    if (list->parsed()) {
      JobFilter f;
      if (!state.empty()) {
        f.state = ParseJobState(state);
        if (!f.state) throw Error(ErrorCode::kInvalidArgument, "unknown state '" + state + "'");
      }
      f.queue = lqueue;
      f.kind = kind;
      f.parent_id = parent;
      f.limit = limit;
      PrintJobs(OpenClient(g, false)->List(f), g.json);
      return 0;
    }
    if (workers_list->parsed()) PrintMembers(OpenClient(g, false)->Members(), g.json);
    if (show->parsed()) {
      auto client = OpenClient(g, false);
      Job job = client->Get(id);
      auto history = client->History(id);
      if (g.json) {
        Json out = job.ToJson();
        out["history"] = Json::array();
        for (const auto& e : history) out["history"].push_back(e.ToJson());
        std::cout << out.dump() << "\n";
      } else {
        PrintJob(job, false);
        std::cout << "history:\n";
        for (const auto& e : history) {
          std::string line =
              fmt::format("  {}  {:<10}  {}", core::FormatRfc3339(e.at), e.type, e.detail);
          std::cout << line.substr(0, line.find_last_not_of(' ') + 1) << "\n";
        }
      }
    }
    if (cancel->parsed()) PrintJob(OpenClient(g, false)->Cancel(id), g.json);
    if (retry->parsed()) PrintJob(OpenClient(g, false)->Retry(id), g.json);
    if (stop->parsed()) PrintJob(OpenClient(g, false)->Stop(id), g.json);
    if (resume->parsed()) PrintJob(OpenClient(g, false)->Resume(id), g.json);
    if (wake->parsed()) PrintJob(OpenClient(g, false)->Wake(id), g.json);
    if (queues_pause->parsed() || queues_resume->parsed()) {
      auto client = OpenClient(g, false);
      if (queues_pause->parsed()) {
        client->PauseQueue(queue_name);
      } else {
        client->ResumeQueue(queue_name);
      }
      PrintQueues(client->Queues(), g.json);
    }
    if (queues_list->parsed()) PrintQueues(OpenClient(g, false)->Queues(), g.json);
    if (cluster_status->parsed() || cluster_stop->parsed() || cluster_resume->parsed()) {
      auto client = OpenClient(g, false);
      if (cluster_stop->parsed()) client->StopCluster(reason);
      if (cluster_resume->parsed()) client->ResumeCluster();
      PrintCluster(client->Cluster(), client->Members(), g.json);
    }
    if (bench->parsed()) return RunBench(DatabaseUrl(g, MaybeConfig(g)), bo);
    return 0;
  } catch (const Error& e) {
    if (g.json) {
      std::cerr << Json{{"error", ToString(e.code())}, {"reason", e.what()}}.dump() << "\n";
    } else {
      std::cerr << "error: " << e.what() << "\n";
    }
    return ExitCode(e.code());
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace
}  // namespace spindle::cli

int main(int argc, char** argv) {
  // A closed pipe (the log's reader went away, `spindle serve 2>&1 | head`) must not kill the
  // worker: writes to it fail with EPIPE instead, and the logger drops what it cannot write.
  // The library leaves process-wide dispositions alone; the program may set them. Commands
  // still start with SIGPIPE at its default (src/runtime/command.cc).
  signal(SIGPIPE, SIG_IGN);
  return spindle::cli::Main(argc, argv);
}

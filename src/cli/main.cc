// The `spindle` command: a client of the public API, nothing more.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/bench.h"
#include "cli/bulk.h"
#include "cli/config.h"
#include "cli/input.h"
#include "cli/kinds.h"
#include "cli/options.h"
#include "cli/output.h"
#include "cli/schedules.h"
#include "cli/usage.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "http/server.h"
#include "spindle/spindle.h"

namespace spindle::cli {
namespace {

struct Globals {
  std::string database;
  std::string config_path;
  std::string log_level;  // default: info for serve, warn for the rest
  bool json = false;
  // serve
  std::optional<int> partition;  // kAutoPartition for "auto"
  std::vector<std::string> roles;
  std::string http;  // serve, web: --http ADDR
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
  if (std::filesystem::is_directory(path)) {
    throw Error(ErrorCode::kInvalidArgument,
                "configuration file '" + path + "' is a directory: name a TOML file");
  }
  if (std::ifstream probe(path); !probe) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("configuration file '{}' cannot be read: {} (run as a user who may "
                            "read it; the Debian package's is for root and the spindle group)",
                            path, std::strerror(errno)));
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

// What a command may do to a database that does not exist yet.
enum class Access {
  kRead,    // nothing: it is an error (inspecting and steering jobs)
  kCreate,  // create and migrate it, and say so (serve, migrate, enqueue, bench)
};

// Checks, for an embedded database, that the file exists or may be created; returns a note to
// print once the database is open ("" when there is nothing to say).
std::string CheckDatabaseFile(const std::string& url, Access access) {
  auto file = Client::DatabaseFile(url);
  if (!file || *file == ":memory:" || std::filesystem::exists(*file)) return "";
  if (access == Access::kRead) {
    throw Error(ErrorCode::kNotFound,
                fmt::format("no database at '{}' (--database {}): nothing was enqueued or served "
                            "there yet; `spindle migrate` creates it",
                            *file, url));
  }
  return fmt::format("note: created a new database at '{}' ({})", *file, url);
}

// Said once a writing command has created or upgraded the schema in an existing database (a
// server's, or a file), as a new file is.
std::string SchemaNote(const std::string& url) {
  return fmt::format("note: created or upgraded Spindle's schema (version {}) in {}",
                     Client::KnownSchemaVersion(), url);
}

// A client of `url` when its schema is current; nullptr when it has none or an older one.
std::unique_ptr<Client> OpenIfCurrent(const std::string& url) {
  try {
    return Client::Open({url}, /*migrate=*/false);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
  }
  return nullptr;
}

// What a writing command will have created in `url`, to say once it is done ("" when nothing):
// a new SQLite file, or the schema in an existing database. Sets `current` to a client when the
// database is already current (nothing to create).
std::string CreationNote(const std::string& url, std::unique_ptr<Client>& current) {
  std::string note = CheckDatabaseFile(url, Access::kCreate);
  if (!note.empty()) return note;
  current = OpenIfCurrent(url);
  return current ? "" : SchemaNote(url);
}

std::unique_ptr<Client> OpenClient(const std::string& url, Access access) {
  std::string note;
  if (access == Access::kCreate) {
    std::unique_ptr<Client> current;
    note = CreationNote(url, current);
    if (current) return current;
  } else {
    note = CheckDatabaseFile(url, access);
  }
  std::unique_ptr<Client> client;
  try {
    client = Client::Open({url}, /*migrate=*/access == Access::kCreate);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
    throw Error(e.code(), fmt::format("{} (--database {})", e.what(), url));  // which database
  }
  if (!note.empty()) std::cerr << note << "\n";
  return client;
}

std::unique_ptr<Client> OpenClient(const Globals& g, Access access = Access::kRead) {
  return OpenClient(DatabaseUrl(g, MaybeConfig(g)), access);
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

// Blocks the stop signals in every thread; the caller waits for them with AwaitStop. SIGHUP
// (the terminal went away) stops like SIGTERM, unless the process was started with it ignored
// (nohup): a blocked signal is delivered even when ignored, so it is left out then.
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  struct sigaction hup {};
  if (sigaction(SIGHUP, nullptr, &hup) == 0 && hup.sa_handler != SIG_IGN) {
    sigaddset(&signals, SIGHUP);
  }
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Returns at the first stop signal; a second one (not within a second of the first) exits at
// once (ExitNow).
void AwaitStop(const sigset_t& signals) {
  int sig = 0;
  sigwait(&signals, &sig);
  core::Log().info("event=signal signal={} action=graceful_stop", SignalName(sig));
  // A signal within a second of the first is the same request delivered twice, not a second
  // one: `timeout` and some supervisors signal the process and then its whole process group.
  auto first = std::chrono::steady_clock::now();
  std::thread([signals, first] {
    for (;;) {
      int again = 0;
      sigwait(&signals, &again);
      if (std::chrono::steady_clock::now() - first >= std::chrono::seconds(1)) ExitNow(again);
      core::Log().info("event=signal signal={} action=none (within a second of the first)",
                       SignalName(again));
    }
  }).detach();
}

// The HTTP server of `serve --http` and `web` (docs/api.md), on a client of its own; the server
// goes first (members are destroyed last to first).
struct HttpServing {
  std::unique_ptr<Client> client;
  std::unique_ptr<http::Server> server;
};

// --http's address, else the configuration's [http]; nullopt when neither is given. Checked.
std::optional<http::ServerOptions> HttpOptions(const Globals& g, const std::optional<Config>& config) {
  std::optional<http::ServerOptions> o;
  if (config && config->http) o = config->http;
  if (!g.http.empty()) {
    if (!o) o.emplace();
    o->listen = g.http;
  }
  if (o) o->Validate();
  return o;
}

void StartHttp(HttpServing& h, const http::ServerOptions& o, std::unique_ptr<Client> client) {
  h.client = std::move(client);
  h.server = std::make_unique<http::Server>(*h.client, o);
  h.server->Start();
}

int Serve(const Globals& g) {
  auto config = MaybeConfig(g);
  WorkerOptions opts = config ? config->worker : WorkerOptions{};
  opts.database_url = DatabaseUrl(g, config);

  sigset_t signals = BlockStopSignals();

  auto http = HttpOptions(g, config);
  HttpServing serving;
  if (g.partition) opts.cluster.partition = *g.partition;
  for (const auto& r : g.roles) opts.cluster.roles.push_back(r);
  if (http) {  // /metrics publishes what the worker tells it
    http->instruments = std::make_shared<http::Instruments>(&opts);
    opts.observer = http->instruments;
  }

  Worker worker(opts);
  if (config) {
    std::vector<std::string> without_command;
    for (const auto& [kind, k] : config->kinds) {
      if (!k.command.argv.empty()) {
        worker.RegisterCommand(kind, k.command);
      } else {
        without_command.push_back(kind);
      }
    }
    if (without_command.size() == config->kinds.size() && config->assignments.empty() &&
        !without_command.empty()) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("nothing to serve: [kinds.{}] of the configuration {} no command "
                              "= [...]; a kind's other settings (queue, serial, ...) apply "
                              "wherever its jobs are enqueued, but `serve` runs only kinds with "
                              "a command",
                              fmt::join(without_command, "], [kinds."),
                              without_command.size() == 1 ? "has" : "have"));
    }
    for (const auto& kind : without_command) {
      core::Log().warn("event=kind_not_served kind={} (its [kinds] table has no command)",
                       core::LogValue(kind));
    }
  }
  if (!config || (config->kinds.empty() && config->assignments.empty())) {
    throw Error(ErrorCode::kInvalidArgument,
                "nothing to serve: give a configuration (--config FILE or SPINDLE_CONFIG) with "
                "a [kinds.NAME] table and its command = [...] for each kind to run (README, "
                "\"Quick start\")");
  }
  for (const auto& [name, a] : config->assignments) {
    worker.RegisterAssignmentCommand(name, a.role, a.command);
  }
  std::unique_ptr<Client> current;
  std::string note = CreationNote(opts.database_url, current);
  current.reset();
  worker.Start();  // creates or upgrades the database first
  if (!note.empty()) std::cerr << note << "\n";
  std::string queues;
  for (const auto& q : opts.queues) {
    queues += fmt::format("{}{}={}", queues.empty() ? "" : ",", q.name, q.concurrency);
    if (opts.slots > 0) queues += fmt::format("(weight {})", q.weight);
  }
  core::Log().info("event=serving worker={} queues={}{}", core::LogValue(worker.id()),
                   core::LogValue(queues),
                   opts.slots > 0 ? fmt::format(" slots={}", opts.slots) : "");
  // Another worker may serve it: said, not refused.
  for (const auto& s : opts.schedules.value_or(std::vector<Schedule>{})) {
    if (!config || !config->kinds.count(s.kind) || config->kinds.at(s.kind).command.argv.empty()) {
      core::Log().warn("event=schedule_kind_not_served schedule={} kind={} (its jobs wait until "
                       "a worker serves the kind)",
                       core::LogValue(s.name), core::LogValue(s.kind));
    }
  }
  if (http) {
    http->worker_id = worker.id();
    StartHttp(serving, *http, Client::Open({opts.database_url}));
  }
  AwaitStop(signals);
  serving.server.reset();  // no more calls, then the worker's graceful stop
  worker.Stop();
  return 0;
}

// `spindle web`: the HTTP server without a worker, until a stop signal.
int Web(const Globals& g) {
  auto config = MaybeConfig(g);
  auto options = HttpOptions(g, config).value_or(http::ServerOptions{});
  sigset_t signals = BlockStopSignals();
  HttpServing serving;
  // A mistyped database must not serve a healthy-looking empty one: `web` creates nothing.
  StartHttp(serving, options, OpenClient(DatabaseUrl(g, config), Access::kRead));
  AwaitStop(signals);
  return 0;
}

// `spindle token new`: a new API token, and the [[http.tokens]] entry that admits it.
int NewToken(const std::string& name, const std::string& scope, bool json) {
  if (!http::ParseScope(scope)) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("--scope must be read, operate or admin, got '{}'", scope));
  }
  std::string token = http::NewToken();
  std::string hash = http::HashToken(token);
  if (json) {
    std::cout << Json{{"token", token}, {"name", name}, {"scope", scope}, {"sha256", hash}}.dump()
              << "\n";
    return 0;
  }
  std::cout << fmt::format("token: {}\n\nGive the token to its user (it is not shown again) and "
                           "add this to the server's configuration:\n\n[[http.tokens]]\nname = "
                           "{}\nscope = \"{}\"\nsha256 = \"{}\"\n",
                           token, Json(name).dump(), scope, hash);
  return 0;
}

// `enqueue`'s deadline options (docs/jobs.md, "Deadlines"): each a time or a duration from now.
struct DeadlineOptions {
  std::string deadline, deadline_in, expires_at, expires_in;
};

// Sets the spec's deadline and expires_at from the options. A deadline may lie in the past (it
// is soft: the job runs and counts as missed); an expiry not after the job's run time is refused,
// as the job would never run.
void ApplyDeadlines(JobSpec& spec, const DeadlineOptions& o, SysTime now) {
  auto time = [&](const char* at_name, const std::string& at, const char* in_name,
                  const std::string& in) -> std::optional<SysTime> {
    if (!at.empty() && !in.empty()) {
      throw Error(ErrorCode::kInvalidArgument, fmt::format("give {} or {}, not both", at_name,
                                                           in_name));
    }
    try {
      if (!at.empty()) return core::ParseRfc3339(at);
      if (in.empty()) return std::nullopt;
      Millis d = core::ParseDuration(in);
      if (d == Millis(0)) throw Error(ErrorCode::kInvalidArgument, "must be longer than 0s");
      return now + d;
    } catch (const Error& e) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("{}: {}", at.empty() ? in_name : at_name, e.what()));
    }
  };
  if (auto t = time("--deadline", o.deadline, "--deadline-in", o.deadline_in)) spec.deadline = t;
  auto expires = time("--expires-at", o.expires_at, "--expires-in", o.expires_in);
  if (!expires) return;
  SysTime runs = spec.run_at.value_or(now);
  if (*expires <= runs) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("{} is not after the time the job would run ({}): it would never run",
                            o.expires_at.empty()
                                ? fmt::format("--expires-in {} ({})", o.expires_in,
                                              core::FormatRfc3339(*expires))
                                : "--expires-at " + core::FormatRfc3339(*expires),
                            core::FormatRfc3339(runs)));
  }
  spec.expires_at = expires;
}

int Enqueue(const Globals& g, JobSpec spec, const std::string& args, const std::string& run_at,
            const std::string& delay, const std::string& timeout, bool args_set,
            int batch_size, const DeadlineOptions& deadlines, const std::string& unique_period,
            const std::string& unique_states) {
  auto config = MaybeConfig(g);
  if (config) {
    auto it = config->kinds.find(spec.kind);
    if (it == config->kinds.end()) {
      throw Error(ErrorCode::kNotFound, fmt::format("unknown kind '{}': the configuration "
                                                    "declares no [kinds.{}]",
                                                    spec.kind, spec.kind));
    }
    // What the command line leaves unset; the rest comes from the kind's recorded defaults.
    const auto& d = it->second.defaults;
    if (!spec.queue) spec.queue = d.queue;
    if (!spec.priority) spec.priority = d.priority;
    if (!spec.max_attempts) spec.max_attempts = d.max_attempts;
    if (timeout.empty()) spec.timeout = d.timeout;
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
  // One "now" for every relative time, so --delay 1h --expires-in 1h reads as the same instant.
  SysTime now = std::chrono::system_clock::now();
  if (!delay.empty()) {
    spec.run_at = now + option("--delay", [&] { return core::ParseDuration(delay); });
  }
  if (!timeout.empty()) {
    spec.timeout = option("--timeout", [&] { return core::ParseDuration(timeout); });
    if (*spec.timeout == Millis(0)) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("--timeout must be longer than 0s, got '{}'", timeout));
    }
  }
  ApplyDeadlines(spec, deadlines, now);
  if (!unique_period.empty()) {
    spec.unique_period = option("--unique-period", [&] {
      Millis period = core::ParseDuration(unique_period);
      if (period == Millis(0)) throw Error(ErrorCode::kInvalidArgument, "must be longer than 0s");
      return period;
    });
  }
  if (!unique_states.empty()) {
    spec.unique_states = option("--unique-states", [&] { return ParseStates(unique_states); });
  }
  if (batch_size > 0) {
    if (args_set) throw Error(ErrorCode::kInvalidArgument, "--batch reads the args from stdin: "
                                                          "give --args or --batch, not both");
    auto specs = ReadBatch(std::cin, spec);
    if (specs.empty()) throw Error(ErrorCode::kInvalidArgument, "--batch: stdin has no jobs");
    InsertBatch(*OpenClient(DatabaseUrl(g, config), Access::kCreate), specs,
                static_cast<size_t>(batch_size), g.json);
    return 0;
  }
  if (!spec.unique_key && (spec.unique_period || !spec.unique_states.empty())) {
    throw Error(ErrorCode::kInvalidArgument, "--unique-period and --unique-states need --unique-key");
  }
  spec.args = ReadArgs(args);
  spec.Validate();
  auto client = OpenClient(DatabaseUrl(g, config), Access::kCreate);
  auto [id, existing] = client->Insert(spec);
  // Where the job went, its kind's defaults applied; and whether any live worker will run it
  // (the job that was already there, when its unique key was held).
  Job job = client->Get(id);
  std::optional<std::string> unserved;  // only for a job that still waits to run
  if (!IsFinal(job.state) && job.state != JobState::kRunning) {
    unserved = client->Members().Unserved(job.kind, job.queue);
  }
  if (g.json) {
    Json out{{"id", id}, {"queue", job.queue}, {"served", !unserved}, {"existing", existing}};
    if (existing) out["state"] = ToString(job.state);
    if (unserved) out["warning"] = *unserved;
    std::cout << out.dump() << "\n";
  } else {
    std::cout << id << "\n";
    if (existing) {
      std::cerr << fmt::format("job {} already exists (unique key '{}', state {}): nothing was "
                               "enqueued\n",
                               id, *spec.unique_key, ToString(job.state));
    }
    if (unserved) std::cerr << "warning: " << *unserved << "\n";
  }
  return 0;
}

// `spindle version`: this binary's version and the newest schema it knows.
std::string VersionText(bool json) {
  if (json) {
    return Json{{"version", Client::Version()}, {"schema_version", Client::KnownSchemaVersion()}}
        .dump();
  }
  return fmt::format("spindle {} (schema version {})", Client::Version(),
                     Client::KnownSchemaVersion());
}

int Main(int argc, char** argv) {
  CLI::App app{"Spindle: a durable, distributed job engine"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand
  Globals g;
  app.set_version_flag("--version", VersionText(false), "Print the version and the schema version");
  app.add_option("--database", g.database,
                 "postgresql://... or sqlite:PATH (default: $SPINDLE_DATABASE, then the "
                 "configuration, then sqlite:spindle.db)");
  app.add_option("--config", g.config_path, "TOML configuration (default: $SPINDLE_CONFIG)");
  app.add_option("--log-level", g.log_level, "trace, debug, info, warn, error, off (default: the configuration's, else info for "
                 "serve; warn for the rest)");
  app.add_flag("--json", g.json, "Machine-readable output");

  auto* version = app.add_subcommand("version", "Print the version and the schema version");
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
  serve->add_option("--http", g.http,
                    "Also serve the HTTP API and /metrics on HOST:PORT, e.g. 127.0.0.1:7777 "
                    "(default: the configuration's [http]; docs/api.md)");
  auto* web = app.add_subcommand("web", "Serve the HTTP API and /metrics without running jobs");
  web->add_option("--http", g.http,
                  "Listen on HOST:PORT (default: the configuration's [http], else "
                  "127.0.0.1:7777)");
  auto* token = app.add_subcommand("token", "API tokens (docs/api.md, \"Tokens\")");
  token->require_subcommand(1);
  auto* token_new = token->add_subcommand("new", "Print a new token and its [[http.tokens]] entry");
  std::string token_name, token_scope = "read";
  token_new->add_option("--name", token_name, "Who uses it, as the audit trail shows")->required();
  token_new->add_option("--scope", token_scope, "read, operate or admin (default: read)");

  auto* workers = app.add_subcommand("workers", "Inspect the cluster");
  workers->require_subcommand(1);
  workers->fallthrough();
  auto* workers_list = workers->add_subcommand("list", "The registered workers");

  auto* enqueue = app.add_subcommand("enqueue", "Enqueue a job; prints its id");
  JobSpec spec;
  std::string args = "{}", run_at, delay, timeout;
  enqueue->add_option("kind", spec.kind, "Job kind")->required();
  auto* args_opt = enqueue->add_option(
      "--args", args, "Job arguments: a JSON object, @FILE (read from FILE) or - (read stdin)");
  bool batch = false;
  int batch_size = 1000;
  enqueue->add_flag("--batch", batch,
                    "Enqueue many: one job per line of JSON on stdin, its args or a spec with "
                    "\"args\" (docs/jobs.md)");
  AddIntOption(*enqueue, "--batch-size", batch_size, 1, 100000,
               "With --batch: jobs per transaction (default: 1000)")
      ->needs("--batch");
  enqueue->add_option_function<std::string>(
      "--queue", [&spec](const std::string& q) { spec.queue = q; },
      "Queue (default: the kind's, else default)");
  AddIntOption(*enqueue, "--priority", spec.priority, kIntMin, kIntMax,
               "Lower runs first (default: the kind's, else 0)");
  enqueue->add_option("--run-at", run_at,
                      "When to run, RFC 3339 with an offset: 2026-01-31T12:00:00Z, "
                      "2026-01-31T14:00:00+02:00, 2026-01-31T12:00:00.250Z");
  enqueue->add_option("--delay", delay, "Run after this long, e.g. 30s, 5m, 1h30m");
  DeadlineOptions deadlines;
  enqueue->add_option("--deadline", deadlines.deadline,
                      "When it should be finished (RFC 3339; soft: it still runs, and counts as "
                      "missed if later)");
  enqueue->add_option("--deadline-in", deadlines.deadline_in, "The deadline as a duration from now");
  enqueue->add_option("--expires-at", deadlines.expires_at,
                      "If not started by then (RFC 3339), it never runs: it becomes expired");
  enqueue->add_option("--expires-in", deadlines.expires_in, "The expiry as a duration from now");
  AddIntOption(*enqueue, "--max-attempts", spec.max_attempts, 1, kIntMax,
               "Default: the kind's, else 25");
  enqueue->add_option("--timeout", timeout,
                      "More than 0, e.g. 30s (default: the kind's, else the worker's)");
  enqueue->add_option_function<std::string>(
      "--serial-key", [&spec](const std::string& k) { spec.serial_key = k; },
      "Jobs with the same key run one at a time, in enqueue order (docs/jobs.md)");
  std::string unique_period, unique_states;
  enqueue->add_option_function<std::string>(
      "--unique-key", [&spec](const std::string& k) { spec.unique_key = k; },
      "While a job with this key is unfinished, enqueue returns it instead (docs/jobs.md)");
  enqueue->add_option("--unique-period", unique_period,
                      "With --unique-key: unique within each period of this length from the "
                      "epoch, e.g. 1h");
  enqueue->add_option("--unique-states", unique_states,
                      "With --unique-key: the states that hold the key (default: scheduled, "
                      "available, running, retryable, waiting, stopped)");

  auto* jobs = app.add_subcommand("jobs", "Inspect and steer jobs");
  jobs->require_subcommand(1);
  jobs->fallthrough();
  auto* list = jobs->add_subcommand("list", "List jobs, newest first");
  std::string state, lqueue, kind, parent, after, serial_key;
  int limit = 100;
  list->add_option("--state", state,
                   "scheduled, available, running, retryable, completed, ...; several: "
                   "failed,retryable");
  list->add_option("--queue", lqueue);
  list->add_option("--kind", kind);
  list->add_option("--parent", parent, "Only the children of this job");
  list->add_option("--serial-key", serial_key, "Only the jobs of this serial key");
  list->add_option("--after", after, "The next page: jobs older than this id");
  AddIntOption(*list, "--limit", limit, 1, 100000, "At most this many (default: 100)");
  bool at_risk = false;
  list->add_flag("--at-risk", at_risk,
                 "Only waiting jobs whose kind's run time no longer fits before their deadline");
  std::string id;
  auto* show = jobs->add_subcommand("show", "Show one job");
  show->add_option("id", id)->required();
  bool full = false;
  show->add_flag("--full", full, "Every line of each error (default: the last 5)");
  BulkOptions bulk;
  auto* cancel = jobs->add_subcommand("cancel", "Cancel a job, or every job selected, that has "
                                                "not finished (with its unfinished children)");
  cancel->add_option("id", id);
  AddBulkOptions(*cancel, bulk);
  cancel->footer(
      "Applies to: scheduled, available, retryable, waiting, running, stopped. The job becomes\n"
      "cancelled (final), with its unfinished children; a running command gets SIGTERM.");
  auto* retry = jobs->add_subcommand(
      "retry", "Run a completed, failed or cancelled job, or every job selected (default: "
               "failed), again");
  retry->add_option("id", id);
  AddBulkOptions(*retry, bulk);
  retry->footer(
      "Applies to: completed, failed, cancelled. The job becomes available; one that used all\n"
      "its attempts gets one more (max_attempts + 1).");
  auto* del = jobs->add_subcommand(
      "delete", "Delete a completed, failed, cancelled or expired job, or every job selected, "
                "with its history");
  del->add_option("id", id);
  AddBulkOptions(*del, bulk);
  auto* stop = jobs->add_subcommand("stop", "Stop a job that has not finished, until resumed");
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
  auto* queues_remove = queues->add_subcommand("remove", "Forget a queue that has no jobs");
  queues_remove->add_option("name", queue_name)->required();

  auto* limits = app.add_subcommand("limits", "Cluster-wide limits and their use");
  limits->require_subcommand(1);
  limits->fallthrough();
  auto* limits_list =
      limits->add_subcommand("list", "Every limit: capacity, what it applies to, running, waiting");
  std::string limit_name;
  auto* limits_remove = limits->add_subcommand(
      "remove", "Remove a recorded limit (a worker that declares it records it again at start)");
  limits_remove->add_option("NAME", limit_name, "The limit's name")->required();
  auto* cluster = app.add_subcommand("cluster", "Stop and resume the whole cluster");
  cluster->require_subcommand(1);
  cluster->fallthrough();
  std::string reason;
  auto* cluster_status = cluster->add_subcommand("status", "Running or stopped, and why");
  auto* cluster_stop =
      cluster->add_subcommand("stop", "Stop fetching; hand back running jobs until resumed");
  cluster_stop->add_option("--reason", reason, "Shown by `cluster status`");
  auto* cluster_resume = cluster->add_subcommand("resume", "Resume a stopped cluster");

  ScheduleCommands schedule_commands;
  AddScheduleCommands(app, schedule_commands);

  auto* bench = app.add_subcommand("bench", "Measure enqueue and work throughput and latency");
  BenchOptions bo;
  AddBenchOptions(*bench, bo);

  // Bad arguments read like every other error, and are "bad input" (exit 2). Under --json the
  // error is JSON even when the arguments around it could not be parsed.
  bool json = std::any_of(argv + 1, argv + argc, [](const char* a) { return a == std::string_view("--json"); });
  auto misuse = [&](const std::string& message) {
    ReportError(ToString(ErrorCode::kInvalidArgument), message, json);
    if (!json) std::cerr << "Run with --help for more information.\n";
    return 2;
  };
  if (auto unknown = UnknownCommand(app, argc, argv)) return misuse(*unknown);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForVersion&) {
    std::cout << VersionText(json) << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return misuse(e.what());
  }
  if (auto empty = EmptyOptionValue(app)) return misuse(*empty);

  try {
    // A worker tells what it does; a one-off command only what went wrong.
    std::string level = g.log_level;
    if (level.empty() && (serve->parsed() || web->parsed())) {
      auto config = MaybeConfig(g);
      level = config && config->log_level ? *config->log_level : "info";
    }
    SetLogLevel(level.empty() ? "warn" : level);
    if (version->parsed()) {
      std::cout << VersionText(g.json) << "\n";
      return 0;
    }
    if (migrate->parsed()) {
      auto client = OpenClient(g, Access::kCreate);
      int v = client->SchemaVersion();
      std::cout << (g.json ? Json{{"version", v}}.dump() : fmt::format("schema version {}", v))
                << "\n";
      return 0;
    }
    if (serve->parsed()) return Serve(g);
    if (web->parsed()) return Web(g);
    if (token_new->parsed()) return NewToken(token_name, token_scope, g.json);
    if (enqueue->parsed()) {
      return Enqueue(g, spec, args, run_at, delay, timeout, args_opt->count() > 0,
                     batch ? batch_size : 0, deadlines, unique_period, unique_states);
    }
    if (list->parsed()) {
      JobFilter f;
      if (!state.empty()) f.states = ParseStates(state);
      f.queue = lqueue;
      f.kind = kind;
      f.parent_id = parent;
      f.serial_key = serial_key;
      f.after_id = after;
      f.limit = limit;
      f.at_risk = at_risk;
      auto client = OpenClient(g);
      auto page = client->List(f);
      // Counted only when the page is full: a shorter one is all there is.
      int64_t total = static_cast<int64_t>(page.size()) < limit
                          ? static_cast<int64_t>(page.size())
                          : client->Count(f);
      PrintJobs(page, total, g.json, at_risk);
      return 0;
    }
    if (workers_list->parsed()) PrintMembers(OpenClient(g)->Members(), g.json);
    if (show->parsed()) {
      auto client = OpenClient(g);
      if (g.json) {
        std::cout << client->Detail(id).dump() << "\n";
      } else {
        Job job = client->Get(id);
        auto history = client->History(id);
        auto kinds = client->Kinds();
        std::optional<Millis> estimate;  // its kind's run time, which makes a waiting job at risk
        for (const auto& k : client->KindStats()) {
          if (k.kind == job.kind) estimate = k.estimate;
        }
        PrintJob(job, false, full, &kinds);
        PrintDeadlines(job, estimate);
        std::cout << "history:\n";
        for (const auto& e : history) {
          // One line each: an error's first (the errors above show it whole).
          std::string detail = e.detail.substr(0, e.detail.find('\n'));
          if (detail.size() < e.detail.size()) detail += " ...";
          std::string line =
              fmt::format("  {}  {:<10}  {}", core::FormatRfc3339(e.at), e.type, detail);
          std::cout << line.substr(0, line.find_last_not_of(' ') + 1) << "\n";
        }
      }
    }
    for (auto [command, action] : {std::pair{cancel, Client::BulkAction::kCancel},
                                   std::pair{retry, Client::BulkAction::kRetry},
                                   std::pair{del, Client::BulkAction::kDelete}}) {
      if (!command->parsed()) continue;
      return RunJobChange(*OpenClient(g), action, id, bulk, g.json,
                          [&](const Job& job) { PrintJob(job, g.json); });
    }
    if (stop->parsed()) PrintJob(OpenClient(g)->Stop(id), g.json);
    if (resume->parsed()) PrintJob(OpenClient(g)->Resume(id), g.json);
    if (wake->parsed()) PrintJob(OpenClient(g)->Wake(id), g.json);
    if (queues_pause->parsed() || queues_resume->parsed()) {
      auto client = OpenClient(g);
      if (queues_pause->parsed()) {
        client->PauseQueue(queue_name);
      } else {
        client->ResumeQueue(queue_name);
      }
      PrintQueues(client->Queues(), g.json);
    }
    if (queues_list->parsed()) PrintQueues(OpenClient(g)->Queues(), g.json);
    if (limits_list->parsed()) PrintLimits(OpenClient(g)->Limits(), g.json);
    if (limits_remove->parsed()) {
      auto client = OpenClient(g);
      client->RemoveLimit(limit_name);
      if (!g.json) {
        std::cout << fmt::format("removed limit {}; the limits that remain:\n", limit_name);
      }
      PrintLimits(client->Limits(), g.json);
    }
    if (queues_remove->parsed()) {
      auto client = OpenClient(g);
      client->RemoveQueue(queue_name);
      PrintQueues(client->Queues(), g.json);
    }
    if (cluster_status->parsed() || cluster_stop->parsed() || cluster_resume->parsed()) {
      auto client = OpenClient(g);
      if (cluster_stop->parsed()) client->StopCluster(reason);
      if (cluster_resume->parsed()) client->ResumeCluster();
      PrintCluster(client->Cluster(), client->Members(), g.json);
    }
    if (RunScheduleCommands(schedule_commands, [&] { return OpenClient(g); }, g.json)) return 0;
    if (bench->parsed()) {
      std::string url = DatabaseUrl(g, MaybeConfig(g));
      if (url == kDefaultDatabase && !bo.use_default_database) {
        throw Error(ErrorCode::kInvalidArgument,
                    "spindle bench writes and removes many jobs: name a database for it with "
                    "--database (e.g. sqlite:/tmp/bench.db), or pass --use-default-database to "
                    "run it on sqlite:spindle.db");
      }
      std::string note = CheckDatabaseFile(url, Access::kCreate);
      if (!note.empty()) std::cerr << note << "\n";
      return RunBench(url, bo);
    }
    return 0;
  } catch (const Error& e) {
    ReportError(ToString(e.code()), e.what(), g.json);
    return core::Traits(e.code()).exit_code;
  } catch (const std::exception& e) {
    ReportError(ToString(ErrorCode::kInternal), e.what(), g.json);
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

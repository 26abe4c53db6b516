// The fault suite: several `spindle serve` processes on one database run a load of jobs (plain,
// multi-step with naps, fan-out) and assignments while faults are injected in rounds: SIGKILL,
// SIGSTOP, the leader killed, a closed log pipe, PostgreSQL restarted or cut off from one
// worker, SQLite's file locked or its filesystem full. After the faults the cluster drains and
// stops, and the invariants are checked from two sources: the log the commands wrote
// (fault_command.cc) and the database's final state.
//
// CI runs a short profile (kFaultTime per test). SPINDLE_SOAK_MINUTES=N injects faults for N
// minutes instead (run the binary directly: ctest stops a test after 15 minutes);
// SPINDLE_FAULT_SEED=S repeats a run's choices. Every run prints its figures.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "tcp_proxy.h"
#include "testing.h"

namespace spindle::faults {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using Steady = std::chrono::steady_clock;
namespace fs = std::filesystem;

// --- timings ----------------------------------------------------------------------------------

// The workers' settings: short, so that rounds are quick.
constexpr const char* kWorkerToml =
    "lease = \"4s\"\nrescue_interval = \"1s\"\nshutdown_grace = \"5s\"\npoll_interval = "
    "\"500ms\"\n";
constexpr const char* kClusterToml =
    "roles = [\"r\"]\nheartbeat_interval = \"200ms\"\nheartbeat_timeout = \"3s\"\n"
    "partition_timeout = \"1s\"\nleader_ttl = \"2s\"\nstability_period = \"1s\"\n";
constexpr auto kHeartbeatTimeout = 3s;
constexpr const char* kKillGrace = "500ms";
constexpr int kWorkers = 4;
constexpr int kConcurrency = 3;
// Cluster-wide limits the workers declare: per value of args.group, and on kind "steps".
constexpr int kGroupLimit = 2;
constexpr int kStepsLimit = 2;
// A resource pool of disk units: a plain or bulk job takes one, a multi-step job two.
constexpr int kDiskPool = 6;
// Queue "bulk": a second queue under a kind limit and the pool, whose limits have no key and no
// rate. Its fetches take the one-statement way (docs/regulation.md) only when every gate of every
// kind the workers handle has room for the whole batch and nothing is parked there, which under
// this load is seldom; mostly they decide job by job, beside the other queue's.
constexpr int kBulkLimit = 3;
// A rate limit on the plain jobs of group 0: at most kRate starts within any kRatePer.
constexpr int kRate = 3;
constexpr auto kRatePer = 2000ms;
constexpr int kAssignments = 3;
// How long faults are injected in CI, per test.
constexpr auto kFaultTime = 30s;
// Once a worker is dead, its commands must be gone within this: before its peers could evict it
// and run its jobs and assignments again.
constexpr auto kOrphanBound = kHeartbeatTimeout;
// Generous bounds for events that take a second or two on an idle machine.
constexpr auto kDrainBound = 180s;
constexpr auto kStopBound = 60s;
constexpr auto kLeaderBound = 30s;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now().time_since_epoch())
      .count();
}

// --- faults and profiles ----------------------------------------------------------------------

enum class Fault {
  kKill,        // SIGKILL of a random worker at a random moment, restarted after a while
  kKillLeader,  // SIGKILL of the leader
  kStopCont,    // SIGSTOP past the heartbeat timeout, then SIGCONT
  kLogPipe,     // the reader of a worker's stdout/stderr pipe goes away; later a clean stop
  kPgRestart,   // pg_ctl restart -m immediate
  kCutOff,      // one worker's connections to PostgreSQL refused or blackholed, then restored
  kSqliteLock,  // another process holds the SQLite write lock past the busy timeout
  kDiskFull,    // the SQLite file's filesystem fills up, then has room again
  kExit,        // not injected: a worker exited by itself (a violation; recorded as a window)
  kFenced,      // not injected: a worker fenced itself (the database was too slow for it)
};

const char* Name(Fault f) {
  switch (f) {
    case Fault::kKill:
      return "kill";
    case Fault::kKillLeader:
      return "kill_leader";
    case Fault::kStopCont:
      return "stop_cont";
    case Fault::kLogPipe:
      return "log_pipe";
    case Fault::kPgRestart:
      return "pg_restart";
    case Fault::kCutOff:
      return "cut_off";
    case Fault::kSqliteLock:
      return "sqlite_lock";
    case Fault::kDiskFull:
      return "disk_full";
    case Fault::kExit:
      return "exit";
    case Fault::kFenced:
      return "fenced";
  }
  return "?";
}

struct Param {
  BackendKind backend;
  const char* profile;  // "workers" or "database"
};

// Names the test's parameter in GoogleTest's messages.
void PrintTo(const Param& p, std::ostream* os) {
  *os << testing::Name(p.backend) << " " << p.profile;
}

// The faults a profile picks from, with weights.
std::vector<std::pair<Fault, int>> ProfileFaults(const Param& p) {
  if (std::string(p.profile) == "workers") {
    return {
        {Fault::kKill, 4}, {Fault::kKillLeader, 1}, {Fault::kStopCont, 1}, {Fault::kLogPipe, 1}};
  }
  if (p.backend == BackendKind::kPostgres) {
    return {{Fault::kPgRestart, 1}, {Fault::kCutOff, 2}, {Fault::kKill, 1}};
  }
  return {{Fault::kSqliteLock, 1}, {Fault::kDiskFull, 1}, {Fault::kKill, 1}};
}

// --- processes --------------------------------------------------------------------------------

int Status(int raw) { return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw); }

// What `path` holds, or as much as could be read: a /proc file of a process that exits meanwhile
// fails to read (ESRCH), and that process is no longer of interest.
std::string ReadFile(const std::string& path) {
  std::string out;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// A process whose environment names one of our worker tags.
struct Tagged {
  pid_t pid;
  std::string tag;
  std::string cmdline;
};

// Every live process whose SPINDLE_FAULT_TAG is `tag` (or starts with it, if `prefix`). Zombies
// have an empty environment and are not listed.
std::vector<Tagged> TaggedProcesses(const std::string& tag, bool prefix) {
  std::vector<Tagged> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  const std::string key = "SPINDLE_FAULT_TAG=";
  while (dirent* e = readdir(d)) {
    if (!std::all_of(e->d_name, e->d_name + strlen(e->d_name), ::isdigit)) continue;
    std::string dir = std::string("/proc/") + e->d_name;
    std::string env = ReadFile(dir + "/environ");
    for (size_t pos = 0; pos < env.size();) {
      size_t end = env.find('\0', pos);
      if (end == std::string::npos) end = env.size();
      std::string_view var(env.data() + pos, end - pos);
      if (var.substr(0, key.size()) == key) {
        std::string value(var.substr(key.size()));
        if (value == tag || (prefix && value.rfind(tag, 0) == 0)) {
          std::string cmd = ReadFile(dir + "/cmdline");
          std::replace(cmd.begin(), cmd.end(), '\0', ' ');
          out.push_back({static_cast<pid_t>(std::stoi(e->d_name)), value, cmd});
        }
        break;
      }
      pos = end + 1;
    }
  }
  closedir(d);
  return out;
}

// A `spindle serve` process: its stdout and stderr go to a pipe that a thread of ours copies to
// a file, until the log-pipe fault closes our end. The environment carries its tag, which every
// command it starts inherits.
class WorkerProcess {
 public:
  WorkerProcess(const std::vector<std::string>& argv, std::string tag, const std::string& log)
      : tag_(std::move(tag)) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      if (std::string_view(*e).rfind("SPINDLE_FAULT_TAG=", 0) != 0) env.emplace_back(*e);
    }
    env.push_back("SPINDLE_FAULT_TAG=" + tag_);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    for (const auto& v : env) cenv.push_back(const_cast<char*>(v.c_str()));
    cargv.push_back(nullptr);
    cenv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    int err = posix_spawn(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (err != 0) {
      close(fds[0]);
      throw std::runtime_error("cannot start " + argv[0]);
    }
    started_pid_ = pid_;
    reader_ = std::thread([this, fd = fds[0], log] {
      std::ofstream out(log, std::ios::app);
      pollfd p{fd, POLLIN, 0};
      char buf[4096];
      while (!close_log_) {
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.write(buf, n).flush();
      }
      close(fd);
    });
  }
  ~WorkerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGCONT);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    CloseLog();
  }

  const std::string& tag() const { return tag_; }
  pid_t pid() const { return started_pid_; }
  bool alive() const { return pid_ > 0; }
  void Signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }
  // The exit status (or 128 + signal) once it has exited; reaps it.
  std::optional<int> TryWait() {
    if (pid_ > 0) {
      int raw = 0;
      if (waitpid(pid_, &raw, WNOHANG) == pid_) {
        status_ = Status(raw);
        pid_ = -1;
      }
    }
    return status_;
  }
  std::optional<int> WaitFor(Steady::duration limit) {
    auto deadline = Steady::now() + limit;
    while (!TryWait() && Steady::now() < deadline) std::this_thread::sleep_for(20ms);
    return status_;
  }
  // Our end of its log pipe is closed: its next write to stdout or stderr hits a closed pipe.
  void CloseLog() {
    close_log_ = true;
    if (reader_.joinable()) reader_.join();
  }
  // Set before the test signals it, so that its exit is not taken for a crash.
  bool expected_exit = false;

 private:
  std::string tag_;
  pid_t pid_ = -1;
  pid_t started_pid_ = -1;
  std::optional<int> status_;
  std::atomic<bool> close_log_{false};
  std::thread reader_;
};

// Runs a command line through the shell; returns its status and its stdout.
std::pair<int, std::string> Shell(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int raw = pclose(p);
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, out};
}

using testing::Quote;

// --- the databases ----------------------------------------------------------------------------

// A PostgreSQL cluster of this test alone (scripts/pg.sh), so that it may be restarted.
class OwnPostgres {
 public:
  // `log` receives scripts/pg.sh's messages.
  OwnPostgres(std::string dir, const std::string& log) : dir_(std::move(dir)) {
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    auto [status, out] = Shell("bash " + Quote(std::string(SOURCE_DIR) + "/scripts/pg.sh") +
                               " start " + Quote(dir_) + " 2>>" + Quote(log));
    if (status != 0) {
      throw std::runtime_error("cannot start PostgreSQL in " + dir_ + ": " + ReadFile(log));
    }
    url_ = out.substr(0, out.find('\n'));
    port_ = std::stoi(url_.substr(url_.rfind(':') + 1));
  }
  ~OwnPostgres() {
    Shell("bash " + Quote(std::string(SOURCE_DIR) + "/scripts/pg.sh") + " stop " + Quote(dir_) +
          " 2>/dev/null");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const std::string& url() const { return url_; }
  int port() const { return port_; }
  // Crash and restart: every connection drops, nothing is flushed (-m immediate).
  void Restart() {
    // The binaries and the user scripts/pg.sh runs the server with.
    std::string cmd = fmt::format(
        "cd / && bin=$(printf '%s\\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1) && "
        "{} \"$bin/pg_ctl\" restart -D {} -m immediate -w -t 60 -l {} 2>&1",
        geteuid() == 0 ? "runuser -u postgres --" : "", Quote(dir_ + "/data"),
        Quote(dir_ + "/postgres.log"));
    auto [status, out] = Shell(cmd);
    if (status != 0) throw std::runtime_error("pg_ctl restart failed: " + out);
  }

 private:
  std::string dir_, url_;
  int port_ = 0;
};

// SQL on the test's database, a new connection each time (it may have restarted meanwhile).
class Sql {
 public:
  Sql(BackendKind kind, std::string url) : kind_(kind), url_(std::move(url)) {}
  using Rows = std::vector<std::vector<std::string>>;
  // Throws on failure. "{jobs}" stands for the backend's jobs table.
  Rows Query(std::string sql) const {
    const std::string jobs = kind_ == BackendKind::kPostgres ? "spindle.jobs" : "spindle_jobs";
    for (size_t p; (p = sql.find("{jobs}")) != std::string::npos;) sql.replace(p, 6, jobs);
    return kind_ == BackendKind::kPostgres ? Postgres(sql) : Sqlite(sql);
  }
  // Logs every transition of a job into a final state, as the database sees it.
  void InstallFinishLog() const {
    if (kind_ == BackendKind::kPostgres) {
      Query(R"(
        CREATE TABLE test_finish (id uuid NOT NULL, state text NOT NULL);
        CREATE FUNCTION test_log_finish() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO test_finish (id, state) VALUES (NEW.id, NEW.state::text);
          RETURN NEW;
        END $$;
        CREATE TRIGGER test_finish_trigger AFTER UPDATE OF state ON spindle.jobs FOR EACH ROW
          WHEN (NEW.state IN ('completed', 'failed', 'cancelled')
                AND OLD.state IS DISTINCT FROM NEW.state)
          EXECUTE FUNCTION test_log_finish();)");
    } else {
      Query(R"(
        CREATE TABLE test_finish (id TEXT NOT NULL, state TEXT NOT NULL);
        CREATE TRIGGER test_finish_trigger AFTER UPDATE OF state ON spindle_jobs FOR EACH ROW
          WHEN NEW.state IN ('completed', 'failed', 'cancelled') AND OLD.state IS NOT NEW.state
          BEGIN
            INSERT INTO test_finish (id, state) VALUES (NEW.id, NEW.state);
          END;)");
    }
  }

 private:
  Rows Postgres(const std::string& sql) const {
    PGconn* c = PQconnectdb((url_ + "?connect_timeout=10").c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      std::string msg = PQerrorMessage(c);
      PQfinish(c);
      throw std::runtime_error("cannot connect: " + msg);
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    PGresult* r = PQexec(c, sql.c_str());
    Rows rows;
    auto st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK) {
      for (int i = 0; i < PQntuples(r); ++i) {
        rows.emplace_back();
        for (int j = 0; j < PQnfields(r); ++j) rows.back().push_back(PQgetvalue(r, i, j));
      }
    }
    std::string err = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) throw std::runtime_error(err);
    return rows;
  }
  Rows Sqlite(const std::string& sql) const {
    sqlite3* db = nullptr;
    sqlite3_open_v2(url_.substr(7).c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
    sqlite3_busy_timeout(db, 10000);
    Rows rows;
    char* err = nullptr;
    int rc = sqlite3_exec(
        db, sql.c_str(),
        [](void* ctx, int n, char** values, char**) {
          auto* rows = static_cast<Rows*>(ctx);
          rows->emplace_back();
          for (int i = 0; i < n; ++i) rows->back().push_back(values[i] ? values[i] : "");
          return 0;
        },
        &rows, &err);
    std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    sqlite3_close(db);
    if (rc != SQLITE_OK) throw std::runtime_error(msg);
    return rows;
  }

  BackendKind kind_;
  std::string url_;
};

// A small tmpfs for the SQLite file, so that its filesystem can be filled up. Mounting needs
// root; `reason` says why it is not mounted otherwise.
class Tmpfs {
 public:
  explicit Tmpfs(std::string dir) : dir_(std::move(dir)) {
    fs::create_directories(dir_);
    if (geteuid() != 0) {
      reason_ = "needs root to mount a tmpfs";
    } else if (mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=64m") != 0) {
      reason_ = std::string("mount tmpfs failed: ") + strerror(errno);
    } else {
      mounted_ = true;
    }
  }
  ~Tmpfs() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& reason() const { return reason_; }
  // Writes a file until the filesystem has no room left.
  void Fill() {
    int fd = open((dir_ + "/filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    std::string chunk(1 << 20, 'x');
    for (size_t size : {chunk.size(), size_t{4096}, size_t{1}}) {
      while (write(fd, chunk.data(), size) > 0) {
      }
    }
    close(fd);
  }
  void Free() { fs::remove(dir_ + "/filler"); }

 private:
  std::string dir_, reason_;
  bool mounted_ = false;
};

// --- the log the commands write ---------------------------------------------------------------

struct LogLine {
  std::string what, key;
  int attempt = 0;
  pid_t pid = 0;
  std::string tag;
  int64_t ns = 0;
  std::vector<std::string> rest;
};

std::vector<LogLine> ReadLog(const std::string& path) {
  std::vector<LogLine> lines;
  std::ifstream in(path);
  for (std::string text; std::getline(in, text);) {
    std::istringstream ls(text);
    LogLine l;
    ls >> l.what >> l.key >> l.attempt >> l.pid >> l.tag >> l.ns;
    for (std::string w; ls >> w;) l.rest.push_back(w);
    lines.push_back(std::move(l));
  }
  return lines;
}

// One execution of a job or one instance of an assignment: one process.
struct Execution {
  std::string key, tag;
  int attempt = 0;
  pid_t pid = 0;
  int64_t spawned = 0;  // when the process began (jobs; else its start)
  int64_t start = 0;    // when it held the lock
  std::optional<int64_t> end;
  std::string outcome;  // done, nap, wait; empty if it never ended (killed)
  bool assignment = false;
};

// --- the run ----------------------------------------------------------------------------------

class FaultSuite : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Setup, load, faults.
  std::string ConfigFor(const std::string& tag);
  void StartWorker(int slot);
  bool Serving(int slot);
  void EnqueueWave();
  void TopUp();
  int64_t Unfinished();
  void Pause(Steady::duration d);
  void ReapUnexpected();
  void Inject(Fault f);
  void Kill(int slot, Fault kind, bool random_moment);
  void CheckOrphans(const std::string& tag, int64_t died_ns);
  std::optional<int> LeaderSlot();
  int RandomSlot();
  // Drain, stop, check.
  void DrainAndStop();
  void CheckDatabase();
  void ReadFences();
  void CheckLog();
  void CheckRates(const std::vector<LogLine>& lines);
  void PrintFigures();

  template <typename T>
  T Uniform(T lo, T hi) {
    if constexpr (std::is_integral_v<T>) {
      return std::uniform_int_distribution<T>(lo, hi)(rng_);
    } else {
      return std::uniform_real_distribution<T>(lo, hi)(rng_);
    }
  }
  Steady::duration RandomMs(int lo, int hi) { return std::chrono::milliseconds(Uniform(lo, hi)); }
  std::string At(int64_t ns) const { return fmt::format("t={:.3f}s", (ns - t0_) / 1e9); }
  void Violate(const std::string& invariant, const std::string& evidence) {
    violations_.push_back({invariant, evidence});
  }
  void Record(Fault f, const std::string& tag, int64_t begin, int64_t end, std::string note = "") {
    events_.push_back({f, tag, begin, end, std::move(note)});
    if (f != Fault::kExit) ++injected_[Name(f)];
  }
  // True if a fault touched the worker `tag` (or every worker) between `from` and `to`.
  bool Faulted(const std::string& tag, int64_t from, int64_t to) const {
    return std::any_of(events_.begin(), events_.end(), [&](const auto& e) {
      return (e.tag == "*" || e.tag == tag) && e.begin <= to && e.end >= from;
    });
  }

  Param param_ = GetParam();
  std::string name_;    // backend_profile
  std::string prefix_;  // of every worker tag of this run
  std::string dir_;     // the log, the locks, the workers' configurations and logs
  std::string url_;     // the database, as the driver reaches it
  std::unique_ptr<OwnPostgres> pg_;
  std::unique_ptr<TcpProxy> proxy_;  // slot 0's way to PostgreSQL
  std::unique_ptr<Tmpfs> tmpfs_;
  std::unique_ptr<Sql> sql_;
  std::unique_ptr<Client> client_;
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  int64_t t0_ = 0, faults_end_ = 0, drained_ = 0;

  std::vector<std::unique_ptr<WorkerProcess>> workers_;
  std::vector<int> incarnation_;
  int unexpected_exits_ = 0;
  std::vector<std::string> enqueued_;
  int children_expected_ = 0;
  std::map<std::string, std::string> errors_;  // job id -> its error list, as stored

  struct FaultEvent {
    Fault fault;
    std::string tag;  // "*": every worker
    int64_t begin, end;
    std::string note;
  };
  std::vector<FaultEvent> events_;
  std::map<std::string, int> injected_;
  std::map<std::string, std::string> not_run_;  // fault -> why
  struct Violation {
    std::string invariant, evidence;
  };
  std::vector<Violation> violations_;
  // Figures.
  int64_t fences_ = 0;  // self-fences the workers logged
  int64_t jobs_in_ = 0, ended_once_ = 0, executions_ = 0, reruns_ = 0, overlaps_ = 0,
          assignment_overlaps_ = 0, orphans_ = 0, limit_overlaps_ = 0, rate_overruns_ = 0,
          rate_starts_ = 0;
};

void FaultSuite::SetUp() {
  name_ = testing::Name(param_.backend) + "_" + param_.profile;
  prefix_ = fmt::format("f{}-{}-", getpid(), name_);
  dir_ = ::testing::TempDir() + "spindle_faults_" + std::to_string(getpid()) + "_" + name_;
  fs::remove_all(dir_);
  fs::create_directories(dir_ + "/locks");
  fs::create_directories(dir_ + "/workers");
  seed_ = std::random_device{}();
  if (const char* s = std::getenv("SPINDLE_FAULT_SEED")) seed_ = std::stoull(s);
  rng_.seed(seed_);
  std::cout << "[faults] " << name_ << ": seed " << seed_ << " (SPINDLE_FAULT_SEED), files in "
            << dir_ << std::endl;

  if (param_.backend == BackendKind::kPostgres) {
    // A short path: PostgreSQL's unix socket lives in it.
    pg_ = std::make_unique<OwnPostgres>(
        fmt::format("/tmp/spindle-faults-{}-{}", getpid(), param_.profile), dir_ + "/pg.sh.log");
    url_ = pg_->url();
    proxy_ = std::make_unique<TcpProxy>(pg_->port());
  } else {
    std::string db_dir = dir_ + "/db";
    if (std::string(param_.profile) == "database") {
      tmpfs_ = std::make_unique<Tmpfs>(db_dir);
      if (!tmpfs_->mounted()) not_run_[Name(Fault::kDiskFull)] = tmpfs_->reason();
    } else {
      fs::create_directories(db_dir);
    }
    url_ = "sqlite:" + db_dir + "/spindle.db";
  }
  client_ = Client::Open({url_});  // migrates
  sql_ = std::make_unique<Sql>(param_.backend, url_);
  sql_->InstallFinishLog();

  t0_ = NowNs();
  incarnation_.assign(kWorkers, 0);
  workers_.resize(kWorkers);
  for (int slot = 0; slot < kWorkers; ++slot) StartWorker(slot);
  for (int i = 0; i < 3; ++i) EnqueueWave();
  // Faults start once the cluster has formed: every worker serving and a member, one of them
  // leader, every assignment running.
  bool formed = testing::WaitUntil(
      [&] {
        ReapUnexpected();
        for (int slot = 0; slot < kWorkers; ++slot) {
          if (!Serving(slot)) return false;
        }
        try {
          auto ms = client_->Members().members;
          return ms.size() == kWorkers &&
                 std::any_of(ms.begin(), ms.end(), [](const Member& m) { return m.leader; }) &&
                 client_->Assignments().size() == kAssignments;
        } catch (const std::exception&) {
          return false;  // busy: asked again
        }
      },
      60s);
  if (!formed) Violate("the cluster forms", "the workers did not form a cluster within 60s");
}

void FaultSuite::TearDown() {
  workers_.clear();  // SIGKILLs any still running
  // Commands that outlived everything: ours, found by their tag.
  for (const auto& p : TaggedProcesses(prefix_, true)) kill(p.pid, SIGKILL);
  proxy_.reset();
  client_.reset();
  pg_.reset();
  tmpfs_.reset();
  if (!HasFailure()) fs::remove_all(dir_);
}

std::string FaultSuite::ConfigFor(const std::string& tag) {
  std::string cmd = fmt::format("[\"{}\", \"job\", \"{}\"]", FAULT_COMMAND_BIN, dir_);
  // The worker id is the tag, so that the database's records name the process.
  std::string toml = fmt::format("log_level = \"info\"\n[worker]\nid = \"{}\"\n{}[cluster]\n{}",
                                 tag, kWorkerToml, kClusterToml);
  // Fair shares between the groups (docs/regulation.md): every fetch goes the fair way.
  toml += fmt::format("[queues.default]\nconcurrency = {}\nfair_key = \"group\"\n", kConcurrency);
  toml += fmt::format("[queues.bulk]\nconcurrency = {}\n", kConcurrency);
  // Cluster-wide limits (docs/regulation.md), below the workers' slots so that they bind: the
  // jobs' args name them (`gates`), and fault_command checks them from its side (slot locks).
  toml += fmt::format("[limits.group]\ncapacity = {}\nkey = \"group\"\nqueue = \"default\"\n",
                      kGroupLimit);
  toml += fmt::format("[pools]\ndisk = {}\n", kDiskPool);
  toml += fmt::format(
      "[limits.burst]\ncapacity = {}\nper = \"{}ms\"\nkey = \"rate\"\nqueue = \"default\"\n", kRate,
      kRatePer.count());
  for (const char* kind : {"plain", "steps", "fanout", "bulk"}) {
    // The tag passes to the commands, which the suite finds by it.
    toml += fmt::format("[kinds.{}]\ncommand = {}\ntimeout = \"60s\"\nkill_grace = \"{}\"\n"
                        "env_allow = [\"PATH\", \"SPINDLE_FAULT_TAG\"]\n",
                        kind, cmd, kKillGrace);
    if (std::string(kind) == "steps") {
      toml += fmt::format("limit = {}\npools = {{ disk = 2 }}\n", kStepsLimit);
    }
    if (std::string(kind) == "plain") toml += "pools = { disk = 1 }\n";
    if (std::string(kind) == "bulk") {
      toml += fmt::format("limit = {}\npools = {{ disk = 1 }}\n", kBulkLimit);
    }
  }
  for (int a = 1; a <= kAssignments; ++a) {
    toml += fmt::format(
        "[assignments.a{}]\nrole = \"r\"\ncommand = [\"{}\", \"assignment\", \"{}\", \"a{}\"]\n"
        "kill_grace = \"{}\"\n",
        a, FAULT_COMMAND_BIN, dir_, a, kKillGrace);
  }
  std::string path = dir_ + "/workers/" + tag + ".toml";
  std::ofstream(path) << toml;
  return path;
}

void FaultSuite::StartWorker(int slot) {
  std::string tag = fmt::format("{}w{}.{}", prefix_, slot, ++incarnation_[slot]);
  // Slot 0 reaches PostgreSQL through the proxy, so that it alone can be cut off.
  std::string url = url_;
  if (proxy_ && slot == 0) {
    url = fmt::format("postgresql://postgres@127.0.0.1:{}/postgres", proxy_->port());
  }
  workers_[slot] = std::make_unique<WorkerProcess>(
      std::vector<std::string>{SPINDLE_BIN, "--database", url, "--config", ConfigFor(tag), "serve"},
      tag, dir_ + "/workers/" + tag + ".log");
}

// One wave of the load: plain jobs (some longer than the heartbeat timeout, so that faults
// find them running), multi-step jobs that nap between steps, and a fan-out parent.
void FaultSuite::EnqueueWave() {
  std::vector<JobSpec> specs;
  auto spec = [](const char* kind, Json args) {
    return JobSpec{.kind = kind, .args = std::move(args), .max_attempts = 1000};
  };
  // A gate is {"name": capacity}, or {"name": [capacity, units]} for a pool's units.
  const Json disk = {{"pool-disk", {kDiskPool, 1}}};
  for (int i = 0; i < 24; ++i) {
    int group = i % 3;
    Json gates = disk;
    gates["group-" + std::to_string(group)] = kGroupLimit;
    Json args = {{"ms", Uniform(50, 500)}, {"group", group}, {"gates", gates}};
    if (group == 0) {
      args["rate"] = "r";
      args["rates"] = {{"burst/r", {kRate, kRatePer.count()}}};
    }
    specs.push_back(spec("plain", std::move(args)));
  }
  for (int i = 0; i < 2; ++i) {
    specs.push_back(spec("plain", {{"ms", Uniform(2500, 7000)}, {"gates", disk}}));
  }
  for (int i = 0; i < 4; ++i) {
    specs.push_back(
        spec("steps", {{"steps", Uniform(2, 4)},
                       {"ms", Uniform(100, 300)},
                       {"nap_ms", Uniform(100, 500)},
                       {"gates", {{"kind-steps", kStepsLimit}, {"pool-disk", {kDiskPool, 2}}}}}));
  }
  for (int i = 0; i < 8; ++i) {
    auto bulk =
        spec("bulk", {{"ms", Uniform(50, 300)},
                      {"gates", {{"kind-bulk", kBulkLimit}, {"pool-disk", {kDiskPool, 1}}}}});
    bulk.queue = "bulk";
    specs.push_back(std::move(bulk));
  }
  Json children = Json::array();
  for (int i = Uniform(3, 6); i > 0; --i) children.push_back(Uniform(50, 300));
  specs.push_back(
      spec("fanout", {{"ms", 100}, {"children", children}, {"child_gates", disk}}));
  // The database may be between faults' recoveries: retry for a while.
  auto deadline = Steady::now() + 60s;
  while (true) {
    try {
      auto ids = client_->EnqueueMany(specs);
      enqueued_.insert(enqueued_.end(), ids.begin(), ids.end());
      children_expected_ += static_cast<int>(children.size());
      return;
    } catch (const std::exception&) {
      if (Steady::now() > deadline) throw;
      std::this_thread::sleep_for(500ms);
    }
  }
}

int64_t FaultSuite::Unfinished() {
  return std::stoll(
      sql_->Query("SELECT count(*) FROM {jobs} WHERE state NOT IN "
                  "('completed', 'failed', 'cancelled')")[0][0]);
}

// Keeps a backlog of a round's work (a wave keeps the workers busy for about two seconds), so
// that every fault finds jobs running.
void FaultSuite::TopUp() {
  try {
    for (int waves = 0; waves < 4 && Unfinished() < 100; ++waves) EnqueueWave();
  } catch (const std::exception&) {
    // Not reachable now: the next round tops up.
  }
}

// Sleeps, watching for workers that exit by themselves.
void FaultSuite::Pause(Steady::duration d) {
  auto until = Steady::now() + d;
  while (Steady::now() < until) {
    ReapUnexpected();
    std::this_thread::sleep_for(std::min<Steady::duration>(100ms, until - Steady::now()));
  }
}

// A worker may die only when the test kills it: an exit of its own is a violation (with its
// log's tail as evidence); its commands must die with it, and it is started again.
void FaultSuite::ReapUnexpected() {
  for (int slot = 0; slot < kWorkers; ++slot) {
    auto& w = workers_[slot];
    if (w->expected_exit || !w->alive()) continue;
    auto status = w->TryWait();
    if (!status) continue;
    int64_t now = NowNs();
    std::string log = ReadFile(dir_ + "/workers/" + w->tag() + ".log");
    Violate(
        "workers stay up",
        fmt::format("worker {} (pid {}) exited by itself with status {} at {}; its log ends:\n{}",
                    w->tag(), w->pid(), *status, At(now),
                    log.substr(log.size() - std::min<size_t>(log.size(), 1500))));
    Record(Fault::kExit, w->tag(), now, now);
    CheckOrphans(w->tag(), now);
    if (++unexpected_exits_ > 20)
      throw std::runtime_error("more than 20 workers died by themselves");
    StartWorker(slot);
  }
}

// Once a worker is dead, none of its commands may be alive after kOrphanBound. Found ones are
// violations; they are SIGKILLed so that the run goes on.
void FaultSuite::CheckOrphans(const std::string& tag, int64_t died_ns) {
  auto deadline = Steady::now() + kOrphanBound;
  std::vector<Tagged> left;
  do {
    left = TaggedProcesses(tag, false);
    if (left.empty()) return;
    std::this_thread::sleep_for(50ms);
  } while (Steady::now() < deadline);
  for (const auto& p : left) {
    Violate("no command outlives its worker",
            fmt::format("pid {} of worker {} still alive {:.1f}s after the worker died at {}: {}",
                        p.pid, tag, (NowNs() - died_ns) / 1e9, At(died_ns), p.cmdline));
    kill(p.pid, SIGKILL);
    ++orphans_;
  }
}

int FaultSuite::RandomSlot() { return Uniform(0, kWorkers - 1); }

// The slot of the live worker that `spindle workers list --json` names leader, once there is one.
std::optional<int> FaultSuite::LeaderSlot() {
  auto deadline = Steady::now() + kLeaderBound;
  std::string out;
  while (Steady::now() < deadline) {
    int status;
    std::tie(status, out) =
        Shell(fmt::format("{} --database {} workers list --json 2>&1", SPINDLE_BIN, Quote(url_)));
    if (status == 0) {
      try {
        Json list = Json::parse(out);
        for (const auto& m : list["workers"]) {
          if (!m["leader"].get<bool>()) continue;
          for (int slot = 0; slot < kWorkers; ++slot) {
            if (workers_[slot]->alive() && m["id"] == workers_[slot]->tag()) return slot;
          }
        }
      } catch (const std::exception&) {
      }
    }
    Pause(200ms);
  }
  Violate("a leader is elected",
          fmt::format("no live worker was leader within {}s, at {}; workers list says: {}",
                      kLeaderBound.count(), At(NowNs()), out));
  return std::nullopt;
}

void FaultSuite::Kill(int slot, Fault kind, bool random_moment) {
  if (random_moment) Pause(RandomMs(0, 1500));
  auto& w = workers_[slot];
  w->expected_exit = true;
  int64_t at = NowNs();
  w->Signal(SIGKILL);
  w->WaitFor(kStopBound);
  Record(kind, w->tag(), at, at);
  CheckOrphans(w->tag(), at);
  // Dead for a while: sometimes shorter, sometimes longer than the heartbeat timeout.
  Pause(RandomMs(500, 4000));
  StartWorker(slot);
  for (auto until = Steady::now() + 30s; Steady::now() < until && !Serving(slot);) Pause(100ms);
}

// Whether the worker in `slot` has finished starting. Faults wait for it: a worker still starting
// when it loses the database exits with a clear error (status 5), as `spindle serve` does when it
// cannot reach the database at start.
bool FaultSuite::Serving(int slot) {
  auto log = dir_ + "/workers/" + workers_[slot]->tag() + ".log";
  return ReadFile(log).find("event=serving") != std::string::npos;
}

void FaultSuite::Inject(Fault f) {
  switch (f) {
    case Fault::kKill:
      Kill(RandomSlot(), f, true);
      break;
    case Fault::kKillLeader: {
      if (auto slot = LeaderSlot()) Kill(*slot, f, false);
      break;
    }
    case Fault::kStopCont: {
      auto& w = workers_[RandomSlot()];
      int64_t begin = NowNs();
      w->Signal(SIGSTOP);
      Pause(kHeartbeatTimeout + RandomMs(1000, 3000));
      w->Signal(SIGCONT);
      Record(f, w->tag(), begin, NowNs());
      Pause(1500ms);
      break;
    }
    case Fault::kLogPipe: {
      int slot = RandomSlot();
      WorkerProcess& w = *workers_[slot];
      w.expected_exit = true;  // watched here, not by ReapUnexpected
      int64_t begin = NowNs();
      w.CloseLog();
      // It must go on working without a log reader, then stop cleanly (stopping logs).
      auto until = Steady::now() + RandomMs(1500, 3000);
      std::optional<int> died;
      while (Steady::now() < until && !(died = w.TryWait())) Pause(100ms);
      int64_t died_at = NowNs();
      std::optional<int> status = died;
      if (!died) {
        w.Signal(SIGTERM);
        status = w.WaitFor(kStopBound);
      }
      int64_t end = NowNs();
      Record(f, w.tag(), begin, end);
      if (died) {
        Violate("workers stay up",
                fmt::format("worker {} (pid {}) lost its log pipe at {} and died with status {} "
                            "at {}, before it was asked to stop",
                            w.tag(), w.pid(), At(begin), *died, At(died_at)));
      } else if (!status || *status != 0) {
        Violate(
            "workers stop cleanly",
            fmt::format("worker {} (pid {}) lost its log pipe at {}, then {} on SIGTERM (a "
                        "clean stop is 0)",
                        w.tag(), w.pid(), At(begin),
                        status ? "exited with status " + std::to_string(*status) : "did not exit"));
      }
      if (!status) {
        w.Signal(SIGKILL);
        w.WaitFor(kStopBound);
      }
      CheckOrphans(w.tag(), died ? died_at : end);
      StartWorker(slot);
      break;
    }
    case Fault::kPgRestart: {
      int64_t begin = NowNs();
      pg_->Restart();
      Record(f, "*", begin, NowNs());
      Pause(2s);
      break;
    }
    case Fault::kCutOff: {
      bool blackhole = Uniform(0, 1) == 1;
      bool reset = blackhole && Uniform(0, 1) == 1;
      int64_t begin = NowNs();
      std::string tag = workers_[0]->tag();
      proxy_->SetMode(blackhole ? TcpProxy::Mode::kBlackhole : TcpProxy::Mode::kRefuse);
      Pause(2 * kHeartbeatTimeout + RandomMs(0, 2000));
      if (reset) proxy_->Reset();
      proxy_->SetMode(TcpProxy::Mode::kForward);
      Record(f, tag, begin, NowNs(),
             blackhole ? (reset ? "blackhole, then reset" : "blackhole, then resumed") : "refused");
      Pause(2s);
      break;
    }
    case Fault::kSqliteLock: {
      testing::Process holder({FAULT_COMMAND_BIN, "hold-lock", url_.substr(7), "8000"});
      if (holder.ReadLine() != "locked") throw std::runtime_error("hold-lock did not lock");
      int64_t begin = NowNs();
      int status = holder.Wait();
      Record(f, "*", begin, NowNs());
      if (status != 0) throw std::runtime_error("hold-lock failed");
      Pause(2s);
      break;
    }
    case Fault::kDiskFull: {
      if (!tmpfs_ || !tmpfs_->mounted()) return;  // reported as not run
      int64_t begin = NowNs();
      tmpfs_->Fill();
      Pause(RandomMs(3000, 5000));
      tmpfs_->Free();
      Record(f, "*", begin, NowNs());
      Pause(2s);
      break;
    }
    case Fault::kExit:
    case Fault::kFenced:
      break;
  }
}

// Every worker up, the backlog finished, then every worker stopped with SIGTERM.
void FaultSuite::DrainAndStop() {
  faults_end_ = NowNs();
  auto deadline = Steady::now() + kDrainBound;
  int64_t left = -1;
  while (Steady::now() < deadline) {
    try {
      if ((left = Unfinished()) == 0) break;
      // A job with many attempts behind it may wait long for its back-off (that is no
      // invariant): it is woken, so that the drain stays short.
      for (const auto& j : client_->List({.states = {JobState::kRetryable}, .limit = 1000})) {
        if (j.run_at > std::chrono::system_clock::now() + 5s) client_->Wake(j.id);
      }
    } catch (const std::exception&) {
    }
    Pause(250ms);
  }
  drained_ = NowNs();
  if (left != 0) {
    Violate("every job reaches one final state",
            fmt::format("{} jobs were not finished {}s after the last fault (listed below)", left,
                        std::chrono::duration_cast<std::chrono::seconds>(kDrainBound).count()));
  }
  for (auto& w : workers_) {
    w->expected_exit = true;
    w->Signal(SIGTERM);
  }
  int64_t stopped = NowNs();
  for (auto& w : workers_) {
    auto status = w->WaitFor(kStopBound);
    if (!status || *status != 0) {
      Violate(
          "workers stop cleanly",
          fmt::format("worker {} (pid {}) {} on SIGTERM", w->tag(), w->pid(),
                      status ? "exited with status " + std::to_string(*status)
                             : "did not exit within " + std::to_string(kStopBound.count()) + "s"));
      w->Signal(SIGKILL);
      w->WaitFor(kStopBound);
    }
  }
  auto deadline2 = Steady::now() + kOrphanBound;
  std::vector<Tagged> left_over;
  do {
    left_over = TaggedProcesses(prefix_, true);
    if (left_over.empty()) break;
    std::this_thread::sleep_for(50ms);
  } while (Steady::now() < deadline2);
  for (const auto& p : left_over) {
    Violate("no command outlives its worker",
            fmt::format("pid {} of worker {} still alive {:.1f}s after every worker stopped: {}",
                        p.pid, p.tag, (NowNs() - stopped) / 1e9, p.cmdline));
    kill(p.pid, SIGKILL);
    ++orphans_;
  }
}

void FaultSuite::CheckDatabase() {
  std::vector<Job> jobs;
  for (int attempt = 0;; ++attempt) {
    try {
      jobs = client_->List({.limit = 1000000});
      break;
    } catch (const std::exception&) {
      if (attempt == 20) throw;
      std::this_thread::sleep_for(500ms);
    }
  }
  std::map<std::string, std::vector<std::string>> finishes;
  for (const auto& row : sql_->Query("SELECT id, state FROM test_finish")) {
    finishes[row[0]].push_back(row[1]);
  }
  jobs_in_ = static_cast<int64_t>(jobs.size());
  std::set<std::string> ids;
  int children = 0;
  for (const auto& j : jobs) {
    ids.insert(j.id);
    children += !j.parent_id.empty();
    std::string errors;
    for (const auto& e : j.errors) {
      errors += fmt::format("\n    attempt {}: {}", e.attempt, e.message);
    }
    errors_[j.id] = errors.empty() ? " none" : errors;
    const auto& f = finishes[j.id];
    if (j.state != JobState::kCompleted) {
      Violate("every job reaches one final state",
              fmt::format("job {} ({} {}) is {} at attempt {}, lease owner '{}'; errors:{}", j.id,
                          j.kind, j.args.dump(), ToString(j.state), j.attempt, j.lease_owner,
                          errors_[j.id]));
    }
    if (j.state == JobState::kRunning) {
      Violate("nothing stays running without a live lease",
              fmt::format("job {} is running on worker '{}' after every worker stopped", j.id,
                          j.lease_owner));
    }
    if (f.size() != 1 && j.state == JobState::kCompleted) {
      Violate("a job completes at most once",
              fmt::format("the database recorded {} final transitions of job {} ({}): {}", f.size(),
                          j.id, j.kind, fmt::join(f, ", ")));
    }
    if (j.kind == "fanout" && j.children_total != static_cast<int>(j.args["children"].size())) {
      Violate("every job reaches one final state",
              fmt::format("fan-out job {} has {} children, its args ask for {}", j.id,
                          j.children_total, j.args["children"].size()));
    }
  }
  for (const auto& id : enqueued_) {
    if (!ids.count(id)) Violate("every job reaches one final state", "job " + id + " is missing");
  }
  if (children != children_expected_) {
    Violate("every job reaches one final state",
            fmt::format("{} children in the database, the fan-out jobs asked for {}", children,
                        children_expected_));
  }
}

// A worker that fences itself (the database did not answer in time) gives up what it runs: a
// run that had just ended may then run again. That is a fault the worker saw, not one the
// driver injected: read the fences from the workers' logs into the timeline.
void FaultSuite::ReadFences() {
  int64_t offset = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count() -
                   NowNs();
  for (const auto& entry : fs::directory_iterator(dir_ + "/workers")) {
    if (entry.path().extension() != ".log") continue;
    std::string tag = entry.path().stem();
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) {
      if (line.find("event=fenced") == std::string::npos) continue;
      std::tm tm{};
      int ms = 0;
      if (sscanf(line.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
        continue;
      }
      tm.tm_year -= 1900;
      tm.tm_mon -= 1;
      int64_t at = static_cast<int64_t>(timegm(&tm)) * 1000000000 + int64_t{ms} * 1000000 - offset;
      events_.push_back({Fault::kFenced, tag, at, at + 1000000, "seen in its log"});
      ++fences_;
    }
  }
}

// No span of a rate limit's window holds more starts than it allows, by the starts (started_at,
// ms) of the attempts that ran: of any capacity + 1 starts in a row, the first and the last are a
// window apart. started_at is written in whole ms, rounded down, and the limit's log rounds up,
// so a few ms of slack.
void FaultSuite::CheckRates(const std::vector<LogLine>& lines) {
  std::map<std::string, std::pair<int, int64_t>> rates;  // gate: capacity, per ms
  std::map<std::string, std::map<std::pair<std::string, int>, int64_t>> starts;
  for (const auto& l : lines) {
    if (l.what != "rate_start" || l.rest.size() != 4) continue;
    rates[l.rest[0]] = {std::stoi(l.rest[1]), std::stoll(l.rest[2])};
    starts[l.rest[0]][{l.key, l.attempt}] = std::stoll(l.rest[3]);
  }
  for (const auto& [gate, by_attempt] : starts) {
    auto [capacity, per] = rates[gate];
    std::vector<int64_t> t;
    for (const auto& [attempt, at] : by_attempt) t.push_back(at);
    std::sort(t.begin(), t.end());
    rate_starts_ += static_cast<int64_t>(t.size());
    for (size_t i = capacity; i < t.size(); ++i) {
      if (t[i] - t[i - capacity] >= per - 5) continue;
      ++rate_overruns_;
      Violate("no rate limit is exceeded",
              fmt::format("{} starts under rate gate {} ({} per {} ms) within {} ms", capacity + 1,
                          gate, capacity, per, t[i] - t[i - capacity]));
    }
  }
}

void FaultSuite::CheckLog() {
  ReadFences();
  auto lines = ReadLog(dir_ + "/log");
  CheckRates(lines);
  // Executions by (job or assignment, pid).
  std::map<std::pair<std::string, pid_t>, Execution> runs;
  for (const auto& l : lines) {
    if (l.what == "start" || l.what == "assignment_start") {
      auto& r = runs[{l.key, l.pid}];
      int64_t spawned = l.rest.size() > 2 ? std::stoll(l.rest[2]) : l.ns;
      r = {l.key,        l.tag,   l.attempt,
           l.pid,        spawned, l.ns,
           std::nullopt, "",      l.what == "assignment_start"};
      executions_ += l.what == "start";
    } else if (l.what == "end" || l.what == "assignment_end") {
      auto it = runs.find({l.key, l.pid});
      if (it == runs.end()) {
        ADD_FAILURE() << "fault log: an end without a start: " << l.key << " pid " << l.pid;
        continue;
      }
      it->second.end = l.ns;
      it->second.outcome = l.rest.empty() ? "done" : l.rest[0];
    } else if (l.what == "limit_overlap") {
      ++limit_overlaps_;
      Violate("no limit is exceeded",
              fmt::format("job {} (attempt {}, pid {} on worker {}) started at {} while {} other "
                          "executions under limit {} were alive",
                          l.key, l.attempt, l.pid, l.tag, At(l.ns),
                          l.rest.size() > 1 ? l.rest[1] : "?", l.rest.empty() ? "?" : l.rest[0]));
    } else if (l.what == "overlap" || l.what == "assignment_overlap") {
      bool job = l.what == "overlap";
      (job ? overlaps_ : assignment_overlaps_)++;
      Violate(
          job ? "no two executions of a job overlap" : "no two instances of an assignment overlap",
          fmt::format("{} {}: pid {} on worker {} (attempt {}) started at {} while pid {} on "
                      "worker {} (attempt {}) still ran it",
                      job ? "job" : "assignment", l.key, l.pid, l.tag, l.attempt, At(l.ns),
                      l.rest.size() > 0 ? l.rest[0] : "?", l.rest.size() > 1 ? l.rest[1] : "?",
                      l.rest.size() > 2 ? l.rest[2] : "?"));
    }
  }
  std::map<std::string, std::vector<const Execution*>> by_key;
  for (const auto& [k, r] : runs) by_key[r.key].push_back(&r);
  for (auto& [key, rs] : by_key) {
    std::sort(rs.begin(), rs.end(), [](auto* a, auto* b) { return a->start < b->start; });
    bool assignment = rs[0]->assignment;
    // The intervals where both ends are known must not overlap (the lock already says so; this
    // also holds if a lock were lost).
    for (size_t i = 1; i < rs.size(); ++i) {
      const Execution* prev = nullptr;
      for (size_t k = 0; k < i; ++k) {
        if (rs[k]->end && *rs[k]->end > rs[i]->start) prev = rs[k];
      }
      if (prev) {
        Violate(assignment ? "no two instances of an assignment overlap"
                           : "no two executions of a job overlap",
                fmt::format("{}: pid {} on {} ran {}..{}, pid {} on {} started at {}", key,
                            prev->pid, prev->tag, At(prev->start), At(*prev->end), rs[i]->pid,
                            rs[i]->tag, At(rs[i]->start)));
      }
    }
    if (assignment) continue;
    // Completed at most once: a second clean completion is allowed only as a re-run after the
    // worker of the first one was hit by a fault while it ran or before its outcome could be
    // stored (at-least-once execution; a run that outlived its worker is an orphan, reported as
    // such).
    const Execution* done = nullptr;
    int completions = 0;
    for (const auto* r : rs) {
      if (done && r->start > *done->end) {
        // A process may begin just after its worker died (a spawn in flight): hence the slack.
        int64_t slack = std::chrono::nanoseconds(kOrphanBound).count();
        if (Faulted(done->tag, done->spawned - slack, r->start)) {
          ++reruns_;
        } else {
          Violate("a job completes at most once",
                  fmt::format("job {} completed at {} (pid {} on {}, attempt {}) and ran again "
                              "at {} (pid {} on {}, attempt {}) with no fault on {} in between; "
                              "its errors:{}",
                              key, At(*done->end), done->pid, done->tag, done->attempt,
                              At(r->start), r->pid, r->tag, r->attempt, done->tag, errors_[key]));
        }
        done = nullptr;
      }
      if (r->outcome == "done") {
        done = r;
        ++completions;
      }
    }
    if (completions == 1) ++ended_once_;
    if (completions == 0) {
      Violate("every job reaches one final state",
              "job " + key + " never completed a run (no clean end in the log)");
    }
  }
}

void FaultSuite::PrintFigures() {
  std::map<std::string, std::vector<Violation>> by_invariant;
  for (const auto& v : violations_) by_invariant[v.invariant].push_back(v);
  std::vector<std::string> faults, not_run;
  for (const auto& [name, n] : injected_) faults.push_back(fmt::format("{} {}", name, n));
  for (const auto& [name, why] : not_run_) not_run.push_back(fmt::format("{} ({})", name, why));
  std::cout << fmt::format(
      "[faults] {} figures (seed {}):\n"
      "  duration         {:.1f}s (faults {:.1f}s, drain {:.1f}s, stop and checks {:.1f}s)\n"
      "  jobs in          {} ({} enqueued, {} children)\n"
      "  jobs ended once  {}\n"
      "  executions       {} (re-runs after a lost outcome: {})\n"
      "  overlaps         {} of jobs, {} of assignments, {} over a limit\n"
      "  rate-limited     {} starts, {} over the rate\n"
      "  orphans          {}\n"
      "  faults injected  {}\n"
      "  self-fences      {}\n"
      "  faults not run   {}\n"
      "  violations       {}\n",
      name_, seed_, (NowNs() - t0_) / 1e9, (faults_end_ - t0_) / 1e9,
      (drained_ - faults_end_) / 1e9, (NowNs() - drained_) / 1e9, jobs_in_, enqueued_.size(),
      jobs_in_ - static_cast<int64_t>(enqueued_.size()), ended_once_, executions_, reruns_,
      overlaps_, assignment_overlaps_, limit_overlaps_, rate_starts_, rate_overruns_, orphans_, fmt::join(faults, ", "), fences_,
      not_run.empty() ? "none" : fmt::format("{}", fmt::join(not_run, ", ")), violations_.size());
  for (const auto& [invariant, vs] : by_invariant) {
    std::cout << "  " << invariant << ": " << vs.size() << "\n";
  }
  // Never silently skipped: in the output, and in the test's XML report.
  for (const auto& [name, why] : not_run_) {
    std::cout << "[faults] NOT RUN: " << name << ": " << why << std::endl;
    RecordProperty("not_run_" + name, why);
  }
  std::cout << std::flush;
  if (violations_.empty()) return;
  std::string timeline;
  std::sort(events_.begin(), events_.end(),
            [](const auto& a, const auto& b) { return a.begin < b.begin; });
  for (const auto& e : events_) {
    timeline +=
        fmt::format("\n  {}..{} {} {} {}", At(e.begin), At(e.end), Name(e.fault), e.tag, e.note);
  }
  for (const auto& [invariant, vs] : by_invariant) {
    std::string evidence;
    for (size_t i = 0; i < std::min<size_t>(vs.size(), 15); ++i) {
      evidence += "\n- " + vs[i].evidence;
    }
    if (vs.size() > 15) evidence += fmt::format("\n- ... and {} more", vs.size() - 15);
    ADD_FAILURE() << "invariant violated " << vs.size() << " time(s): " << invariant << evidence;
  }
  std::cout << "[faults] timeline (times since the start):" << timeline << std::endl;
}

TEST_P(FaultSuite, InvariantsHoldUnderFaults) {
  auto fault_time = std::chrono::duration_cast<Steady::duration>(kFaultTime);
  if (const char* m = std::getenv("SPINDLE_SOAK_MINUTES")) {
    fault_time = std::chrono::duration_cast<Steady::duration>(
        std::chrono::duration<double, std::ratio<60>>(std::stod(m)));
  }
  auto faults = ProfileFaults(param_);
  int total = 0;
  for (const auto& [f, w] : faults) total += w;
  // Every fault of the profile once, in a random order, then random picks by weight.
  std::vector<Fault> first;
  for (const auto& [f, w] : faults) first.push_back(f);
  std::shuffle(first.begin(), first.end(), rng_);
  auto until = Steady::now() + fault_time;
  try {
    for (size_t round = 0; round < first.size() || Steady::now() < until; ++round) {
      TopUp();
      Fault f = faults[0].first;
      if (round < first.size()) {
        f = first[round];
      } else {
        int pick = Uniform(0, total - 1);
        for (const auto& [candidate, w] : faults) {
          if ((pick -= w) < 0) {
            f = candidate;
            break;
          }
        }
      }
      Inject(f);
      ReapUnexpected();
      Pause(RandomMs(500, 2000));
    }
  } catch (const std::exception& e) {
    // The test's own machinery failed (pg_ctl, a helper process): not Spindle's doing, and the
    // state it left says nothing about Spindle.
    FAIL() << "the fault driver failed: " << e.what();
  }
  DrainAndStop();
  CheckDatabase();
  CheckLog();
  PrintFigures();
}

INSTANTIATE_TEST_SUITE_P(Faults, FaultSuite,
                         ::testing::Values(Param{BackendKind::kPostgres, "workers"},
                                           Param{BackendKind::kPostgres, "database"},
                                           Param{BackendKind::kSqlite, "workers"},
                                           Param{BackendKind::kSqlite, "database"}),
                         [](const auto& info) {
                           return testing::Name(info.param.backend) + "_" + info.param.profile;
                         });

}  // namespace
}  // namespace spindle::faults

// The commands the fault suite's workers run, and its database-lock helper.
//
//   fault_command job DIR                 a job handler (kinds plain, steps, fanout)
//   fault_command assignment DIR NAME     an assignment: runs until SIGTERM
//   fault_command hold-lock DB MS         holds a SQLite file's write lock for MS milliseconds
//
// Jobs and assignments append one line per event to DIR/log, each with one write() on an
// O_APPEND descriptor so that lines of concurrent processes never interleave:
//
//   start <job> <attempt> <pid> <tag> <ns> <kind> <step> <exec ns>
//   end <job> <attempt> <pid> <tag> <ns> done|nap|wait
//   overlap <job> <attempt> <pid> <tag> <ns> <holder pid> <holder tag> <holder attempt>
//   limit_overlap <job> <attempt> <pid> <tag> <ns> <gate> <capacity>
//   rate_start <job> <attempt> <pid> <tag> <ns> <gate> <capacity> <per ms> <started_at ms>
//   assignment_start|assignment_end <name> 0 <pid> <tag> <ns>
//   assignment_overlap <name> 0 <pid> <tag> <ns> <holder pid> <holder tag> 0
//
// <tag> names the worker process that started us (SPINDLE_FAULT_TAG, inherited from it), <ns>
// is CLOCK_MONOTONIC, which the driver shares; <exec ns> is when the process began, before it
// read its input and took its lock. Every execution holds flock(DIR/locks/<job>) for
// its whole run: the kernel drops it when the process dies, however it dies, so finding it held
// means another execution of the same job is alive right now. That is recorded as an overlap,
// then this execution waits for the lock, so one violation is recorded once and the load goes
// on unchanged. Likewise, a job whose args name cluster-wide limits (`gates`: {"name": capacity},
// or {"name": [capacity, units]} for a pool) holds one (or `units`) of `capacity` slots,
// flock(DIR/locks/gate-<name>-<i>), per gate: finding them all held means more executions (or
// units) under that limit are alive than it allows (`limit_overlap`). A job whose args name rate
// limits (`rates`: {"gate": [capacity, per ms]}) logs its attempt's start, as the worker handed it
// over (`started_at`), for the driver to count the starts within each span of `per`.
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace {

using Json = nlohmann::json;

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "fault_command: " << what << "\n";
  std::exit(1);
}
[[noreturn]] void DieErrno(const std::string& what) { Die(what + ": " + strerror(errno)); }

long long Now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void SleepMs(long long ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

std::string Tag() {
  const char* tag = std::getenv("SPINDLE_FAULT_TAG");
  return tag && *tag ? tag : "-";
}

class Log {
 public:
  explicit Log(const std::string& dir) {
    fd_ = open((dir + "/log").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) DieErrno("cannot open " + dir + "/log");
  }
  // One write() per line.
  void Line(const std::string& what, const std::string& key, long long attempt,
            const std::string& rest) {
    std::string line = what + " " + key + " " + std::to_string(attempt) + " " +
                       std::to_string(getpid()) + " " + Tag() + " " + std::to_string(Now());
    if (!rest.empty()) line += " " + rest;
    line += "\n";
    if (write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      DieErrno("cannot append to the log");
    }
  }

 private:
  int fd_;
};

// Holds flock(path) until the process ends. If another live process holds it, logs `overlap`
// naming the holder (as the lock file says), then waits for it.
void Exclusive(Log& log, const std::string& path, const std::string& what, const std::string& key,
               long long attempt) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) DieErrno("cannot open " + path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) DieErrno("flock " + path);
    char holder[256] = {};
    ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
    std::string h = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "? ? ?";
    log.Line(what, key, attempt, h);
    while (flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) DieErrno("flock " + path);
    }
  }
  std::string me = std::to_string(getpid()) + " " + Tag() + " " + std::to_string(attempt);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, me.data(), me.size(), 0) < 0) DieErrno("write " + path);
}

// Holds one of gate's `capacity` slots that this process does not hold yet (`mine`) until the
// process ends; all held: logs `limit_overlap`, then waits for the last one it tried.
void Slot(Log& log, const std::string& dir, const std::string& gate, int capacity,
          std::set<int>& mine, const std::string& id, long long attempt) {
  int fd = -1, wait = -1, waited = -1;
  for (int i = 0; i < capacity; ++i) {
    if (mine.contains(i)) continue;
    std::string path = dir + "/locks/gate-" + gate + "-" + std::to_string(i);
    fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) DieErrno("cannot open " + path);
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      mine.insert(i);
      return;
    }
    if (errno != EWOULDBLOCK) DieErrno("flock " + path);
    if (wait >= 0) close(wait);
    wait = fd;
    waited = i;
  }
  log.Line("limit_overlap", id, attempt, gate + " " + std::to_string(capacity));
  while (wait >= 0 && flock(wait, LOCK_EX) != 0) {
    if (errno != EINTR) DieErrno("flock gate " + gate);
  }
  mine.insert(waited);
}

int Job(const std::string& dir, long long exec_ns) {
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  Json job = Json::parse(input);
  std::string id = job.at("id");
  std::string kind = job.at("kind");
  long long attempt = job.at("attempt");
  const Json& args = job.at("args");
  std::string step = job.value("step", Json()).is_string() ? job["step"].get<std::string>() : "-";
  Log log(dir);
  Exclusive(log, dir + "/locks/" + id, "overlap", id, attempt);
  if (args.contains("gates")) {
    for (const auto& [gate, size] : args["gates"].items()) {
      // Each unit its own slot: a second flock on a new descriptor conflicts with the first.
      int capacity = size.is_array() ? size.at(0).get<int>() : size.get<int>();
      int units = size.is_array() ? size.at(1).get<int>() : 1;
      std::set<int> mine;
      for (int u = 0; u < units; ++u) Slot(log, dir, gate, capacity, mine, id, attempt);
    }
  }
  log.Line("start", id, attempt, kind + " " + step + " " + std::to_string(exec_ns));
  if (args.contains("rates")) {
    std::tm tm{};
    int ms = 0;
    std::string at = job.at("started_at");
    if (sscanf(at.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
      Die("started_at is not RFC 3339 UTC with milliseconds: " + at);
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    long long started = static_cast<long long>(timegm(&tm)) * 1000 + ms;
    for (const auto& [gate, rate] : args["rates"].items()) {
      log.Line("rate_start", id, attempt,
               gate + " " + rate.at(0).dump() + " " + rate.at(1).dump() + " " +
                   std::to_string(started));
    }
  }
  SleepMs(args.at("ms").get<long long>());

  std::string outcome = "done";
  if (kind == "steps") {
    // One step per visit; a nap between steps, the checkpoint counting the steps done.
    const Json& cp = job.at("checkpoint");
    int done = cp.is_object() ? cp.at("done").get<int>() + 1 : 1;
    if (done < args.at("steps").get<int>()) {
      std::cout << Json{{"checkpoint", {{"done", done}}},
                        {"nap", std::to_string(args.at("nap_ms").get<int>()) + "ms"}}
                       .dump()
                << std::endl;
      outcome = "nap";
    }
  } else if (kind == "fanout" && step == "-") {
    Json children = Json::array();
    for (const auto& ms : args.at("children")) {
      children.push_back(
          {{"kind", "plain"},
           {"args", {{"ms", ms}, {"gates", args.value("child_gates", Json::object())}}},
           {"max_attempts", 1000}});
    }
    std::cout << Json{{"enqueue", children}, {"next", "gather"}}.dump() << std::endl;
    outcome = "wait";
  } else if (kind == "fanout") {
    // The driver checks the children in the database; the result repeats what this run saw.
    int completed = 0;
    for (const auto& c : job.at("children")) completed += c.at("state") == "completed";
    std::cout << Json{{"result",
                       {{"children", job.at("children").size()}, {"completed", completed}}}}
                     .dump()
              << std::endl;
  }
  log.Line("end", id, attempt, outcome);
  return 0;
}

int Assignment(const std::string& dir, const std::string& name) {
  // The input ({"assignment", "role", "worker"}) says nothing the tag does not.
  std::cin.ignore(std::numeric_limits<std::streamsize>::max());
  Log log(dir);
  // SIGTERM kills us at once until we hold the lock (an instance that never started has nothing
  // to log); from then on it ends the instance with an end line.
  Exclusive(log, dir + "/locks/assignment-" + name, "assignment_overlap", name, 0);
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, nullptr);
  log.Line("assignment_start", name, 0, "");
  int sig = 0;
  sigwait(&term, &sig);
  log.Line("assignment_end", name, 0, "");
  return 0;
}

// Takes the write lock of a SQLite database (waiting for it as long as it takes), prints
// "locked", holds it for `ms`, and lets it go.
int HoldLock(const std::string& path, long long ms) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    Die("cannot open " + path + ": " + sqlite3_errmsg(db));
  }
  sqlite3_busy_timeout(db, 60000);
  char* err = nullptr;
  if (sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, &err) != SQLITE_OK) {
    Die(std::string("BEGIN EXCLUSIVE: ") + (err ? err : "?"));
  }
  std::cout << "locked" << std::endl;
  SleepMs(ms);
  sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  long long exec_ns = Now();
  std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "job" && argc == 3) return Job(argv[2], exec_ns);
    if (mode == "assignment" && argc == 4) return Assignment(argv[2], argv[3]);
    if (mode == "hold-lock" && argc == 4) return HoldLock(argv[2], std::atoll(argv[3]));
  } catch (const std::exception& e) {
    Die(e.what());
  }
  std::cerr << "usage: fault_command job DIR | assignment DIR NAME | hold-lock DB MS\n";
  return 2;
}

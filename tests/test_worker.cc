// A worker process for the multi-process tests: an embedding program as a user would write it.
//   test_worker URL [--name value]...
// Kinds:
//   work   sleeps --sleep ms (honouring its cancel token) and completes.
//   steps  visits three steps, one per attempt, appending "JOB_ID STEP" to the --effects file
//          and rescheduling itself (snooze) between steps.
//   boom   fails with "order N was declined by gateway ID" (N: its args' n, ID: its own id).
//   six    a multi-step kind (Worker::RegisterSteps) of six steps, each logging its start (with
//          the checkpoint it got) and its end to the --effects file.
// Assignments: --assignments N declares a000..a(N-1) of role "test"; their start and stop append
// "start|stop NAME WORKER MICROS" to the --assign-log file.
// Prints its worker id, then runs until SIGTERM.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>

#include <fmt/format.h>

#include "spindle/spindle.h"

namespace {

void AppendLine(const std::string& path, const std::string& line) {
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) std::abort();
  std::string l = line + "\n";
  if (write(fd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) std::abort();
  close(fd);
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || (argc - 2) % 2 != 0) {
    std::cerr << "usage: test_worker URL [--name value]...\n";
    return 2;
  }
  std::map<std::string, std::string> flags;
  for (int i = 2; i + 1 < argc; i += 2) flags[argv[i]] = argv[i + 1];
  auto num = [&](const std::string& name, int64_t def) {
    auto it = flags.find(name);
    return it == flags.end() ? def : std::stoll(it->second);
  };
  auto ms = [&](const std::string& name, int64_t def) { return spindle::Millis(num(name, def)); };

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  spindle::WorkerOptions o;
  o.database_url = argv[1];
  o.lease = ms("--lease", 30000);
  std::string queue = flags.count("--queue") ? flags["--queue"] : "default";
  o.queues = {{queue, static_cast<int>(num("--concurrency", 4))}};
  o.rescue_interval = spindle::Millis(250);
  o.poll_interval = spindle::Millis(250);
  auto& c = o.cluster;
  if (flags.count("--partition")) {
    c.partition = flags["--partition"] == "auto" ? spindle::kAutoPartition
                                                 : std::stoi(flags["--partition"]);
  }
  c.heartbeat_interval = ms("--hb-interval", 2000);
  c.heartbeat_timeout = ms("--hb-timeout", 10000);
  c.partition_timeout = ms("--partition-timeout", 4000);
  c.leader_ttl = ms("--leader-ttl", 10000);
  c.stability_period = ms("--stability", 5000);
  c.roles = {"test"};

  spindle::Worker worker(o);
  int sleep_ms = static_cast<int>(num("--sleep", 0));
  worker.Register("work", [sleep_ms](spindle::JobContext& ctx) {
    if (sleep_ms > 0 && ctx.cancel.WaitFor(std::chrono::milliseconds(sleep_ms))) {
      return spindle::JobResult::Error("cancelled");
    }
    return spindle::JobResult::Done();
  });
  worker.Register("boom", [](spindle::JobContext& ctx) {
    return spindle::JobResult::Error(fmt::format("order {} was declined by gateway {}",
                                                 ctx.job.args.value("n", 0), ctx.job.id));
  });
  std::string effects = flags["--effects"];
  worker.Register("steps", [effects](spindle::JobContext& ctx) {
    int step = ctx.job.attempt;  // snoozing does not use up attempts: attempt n runs step n
    AppendLine(effects, fmt::format("{} {}", ctx.job.id, step));
    return step < 3 ? spindle::JobResult::Snooze(spindle::Millis(0)) : spindle::JobResult::Done();
  });
  // six: steps s1..s6; each appends "start JOB STEP CHECKPOINT" and, after --step-ms,
  // "end JOB STEP" to the --effects file, and adds its name to the checkpoint's "done" list.
  std::vector<spindle::Step> six;
  int step_ms = static_cast<int>(num("--step-ms", 300));
  for (int k = 1; k <= 6; ++k) {
    six.push_back({"s" + std::to_string(k), [effects, step_ms](spindle::StepContext& ctx) {
                     std::string cp = ctx.checkpoint.is_null() ? "[]" : ctx.checkpoint["done"].dump();
                     AppendLine(effects, fmt::format("start {} {} {}", ctx.job.id, ctx.step, cp));
                     if (ctx.cancel.WaitFor(std::chrono::milliseconds(step_ms))) {
                       return spindle::JobResult::Error("cancelled");
                     }
                     if (ctx.checkpoint.is_null()) ctx.checkpoint = {{"done", spindle::Json::array()}};
                     ctx.checkpoint["done"].push_back(ctx.step);
                     AppendLine(effects, fmt::format("end {} {}", ctx.job.id, ctx.step));
                     return spindle::JobResult::Done();
                   }});
  }
  worker.RegisterSteps("six", six);
  std::string log = flags["--assign-log"];
  const std::string& id = worker.id();
  for (int i = 0; i < num("--assignments", 0); ++i) {
    worker.RegisterAssignment(
        fmt::format("a{:03}", i), "test",
        {[log, &id](const std::string& name) {
           AppendLine(log, fmt::format("start {} {} {}", name, id, NowMicros()));
         },
         [log, &id](const std::string& name) {
           AppendLine(log, fmt::format("stop {} {} {}", name, id, NowMicros()));
         },
         spindle::Millis(100)});  // a stop that only writes a line
  }
  worker.Start();
  std::cout << worker.id() << std::endl;  // tells the test who we are
  int sig = 0;
  sigwait(&signals, &sig);
  worker.Stop();
  std::cout << "fetched " << worker.stats().fetched << std::endl;
  return 0;
}

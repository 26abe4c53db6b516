// A worker process for the multi-process tests: an embedding program as a user would write it.
//   test_worker URL [lease_ms] [sleep_ms] [concurrency]
// Kind "work" sleeps sleep_ms (honouring its cancel token) and completes. Runs until SIGTERM.
#include <signal.h>

#include <cstdlib>
#include <iostream>

#include "spindle/spindle.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: test_worker URL [lease_ms] [sleep_ms] [concurrency]\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  spindle::WorkerOptions o;
  o.database_url = argv[1];
  o.lease = spindle::Millis(argc > 2 ? std::atoi(argv[2]) : 30000);
  int sleep_ms = argc > 3 ? std::atoi(argv[3]) : 0;
  o.queues = {{"default", argc > 4 ? std::atoi(argv[4]) : 4}};
  o.rescue_interval = spindle::Millis(250);
  o.poll_interval = spindle::Millis(250);
  spindle::Worker worker(o);
  worker.Register("work", [sleep_ms](spindle::JobContext& ctx) {
    if (sleep_ms > 0 && ctx.cancel.WaitFor(std::chrono::milliseconds(sleep_ms))) {
      return spindle::JobResult::Error("cancelled");
    }
    return spindle::JobResult::Done();
  });
  worker.Start();
  std::cout << worker.id() << std::endl;  // tells the test who we are
  int sig = 0;
  sigwait(&signals, &sig);
  worker.Stop();
  std::cout << "fetched " << worker.stats().fetched << std::endl;
  return 0;
}

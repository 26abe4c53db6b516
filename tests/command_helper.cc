// A process that runs one command, for the tests that SIGKILL the process running it:
//   command_helper PROGRAM [ARG]...
// Runs `true` first on a thread that then exits, so that whatever process-wide state running a
// command sets up was set up by a thread that is gone; then runs the command on the main thread
// and prints its RunCommand result (Describe()) on stdout.
#include <iostream>
#include <thread>

#include "runtime/command.h"

int main(int argc, char** argv) {
  using spindle::runtime::CommandRun;
  using spindle::runtime::RunCommand;
  if (argc < 2) {
    std::cerr << "usage: command_helper PROGRAM [ARG]...\n";
    return 2;
  }
  std::thread([] {
    CommandRun warm_up;
    warm_up.argv = {"true"};
    RunCommand(warm_up);
  }).join();
  CommandRun run;
  run.argv.assign(argv + 1, argv + argc);
  std::cout << RunCommand(run).Describe() << std::endl;
  return 0;
}

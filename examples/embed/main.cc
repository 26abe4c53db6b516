// A program that enqueues jobs and runs them with C++ handlers, in one process, on an embedded
// SQLite database (or PostgreSQL: pass its URL). docs/embedding.md walks through it.
//
//   embed [DATABASE_URL]      default: sqlite:embed.db
//
// Prints each job's result and exits 0 once all of them completed, 1 otherwise.
#include <spindle/spindle.h>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const std::string url = argc > 1 ? argv[1] : "sqlite:embed.db";
  std::cout << "spindle " << spindle::Client::Version() << " (schema version "
            << spindle::Client::KnownSchemaVersion() << ") on " << url << "\n";
  try {
    // The library logs each event on stderr; this keeps warnings and errors only.
    spindle::SetLogLevel("warn");
    // The client enqueues and reads jobs; opening it creates or upgrades the schema.
    auto client = spindle::Client::Open({.database_url = url});

    // The worker runs them: one handler per kind, here on 4 threads of the default queue.
    spindle::Worker worker(
        {.database_url = url, .queues = {{.name = "default", .concurrency = 4}}});
    worker.Register("greet", [](spindle::JobContext& ctx) {
      std::string name = ctx.job.args.value("name", "world");
      return spindle::JobResult::Done({{"greeting", "hello, " + name}});
    });
    worker.Register("sum", [](spindle::JobContext& ctx) {
      const auto& numbers = ctx.job.args.at("numbers");
      if (!numbers.is_array()) return spindle::JobResult::Discard("numbers must be an array");
      long total = 0;
      for (const auto& n : numbers) total += n.get<long>();
      return spindle::JobResult::Done({{"total", total}});
    });
    worker.Start();

    std::vector<std::string> ids = client->EnqueueMany({
        {.kind = "greet", .args = {{"name", "Ada"}}},
        {.kind = "greet", .args = {{"name", "Grace"}}},
        {.kind = "sum", .args = {{"numbers", {1, 2, 3, 4}}}},
    });

    // Wait (up to a minute) until every job has finished, then stop the worker gracefully.
    auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    std::vector<spindle::Job> jobs;
    for (;;) {
      jobs.clear();
      for (const auto& id : ids) jobs.push_back(client->Get(id));
      bool finished = true;
      for (const auto& job : jobs) finished = finished && spindle::IsFinal(job.state);
      if (finished || std::chrono::steady_clock::now() > give_up) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    worker.Stop();

    bool all_completed = true;
    for (const auto& job : jobs) {
      std::cout << job.kind << " " << job.id << " " << spindle::ToString(job.state) << " "
                << job.result.dump() << "\n";
      all_completed = all_completed && job.state == spindle::JobState::kCompleted;
    }
    return all_completed ? 0 : 1;
  } catch (const spindle::Error& e) {
    std::cerr << "embed: " << e.what() << "\n";
    return 1;
  }
}

// The events feed (docs/api.md, "Events"): what changed in the cluster, numbered, for long-poll
// and Server-Sent Events clients. One hub per server reads the database on one loop, whatever
// the number of clients, and only while someone listened within the last minute.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/instruments.h"
#include "spindle/client.h"

namespace spindle::http {

struct Event {
  int64_t id = 0;    // this server's numbering: 1, 2, ...
  // queue, cluster, worker_joined, worker_left, leader, control, job, jobs_skipped
  std::string type;
  SysTime at;
  Json data;

  Json ToJson() const;
};

class EventHub {
 public:
  static constexpr size_t kKept = 1000;  // the ring a reconnecting client can catch up from

  // At most `max_streams` event streams at once: each holds a thread of the server's.
  // `instruments`: the worker's beside the server, whose attempts become job events.
  EventHub(Client& client, Instruments& instruments, Millis interval, int max_streams);
  ~EventHub();

  // The events after `after` (an id from an earlier answer; last_id() for from now on),
  // waiting up to `wait` for the first. `gap`: some after `after` were already dropped from the
  // ring.
  std::vector<Event> Since(int64_t after, Millis wait, bool& gap);
  int64_t last_id();
  // Waits up to `max` until the hub holds a snapshot to tell changes from, reading one at once
  // if it has none (nobody listened for a minute). A client that reads the state after this
  // returns misses no change: each one after it comes as an event. False on timeout or close.
  bool AwaitSnapshot(Millis max);
  // Wakes every waiter and stops the loop (the server is stopping).
  void Close();
  bool closed();
  // A stream's place: false when max_streams are open. CloseStream gives it back.
  bool OpenStream();
  void CloseStream();
  // How many times the loop read the database (for tests).
  int64_t reads();

 private:
  void Loop();
  void Poll();  // one read of the database, and the events of what differs since the last
  void Emit(const std::string& type, Json data,
            SysTime at = std::chrono::system_clock::now());  // under mu_

  Client& client_;
  Instruments& instruments_;
  Millis interval_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Event> ring_;
  int64_t next_id_ = 1;
  bool closed_ = false;
  std::chrono::steady_clock::time_point listened_{};
  int64_t reads_ = 0;
  int max_streams_;
  int streams_ = 0;
  // The last snapshot: each queue's JSON, the cluster's, the members, the leader.
  bool have_snapshot_ = false;
  bool poll_now_ = false;  // a listener waits for a snapshot: read without waiting the interval
  std::map<std::string, Json> queues_;
  Json cluster_;
  std::set<std::string> members_;
  std::string leader_;
  // The audit entries of the last read (the newest 100): an entry that commits late, with an id
  // below one already seen, is still told once.
  std::set<int64_t> audit_seen_;
  std::thread thread_;
};

}  // namespace spindle::http

// The HTTP API (docs/api.md) on every backend: a real server on a loopback port, a real
// database, requests over TCP. Every endpoint and every error status, tokens and scopes, the
// OpenAPI document against the routes, and `spindle serve --http` / `spindle web` as processes.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "core/time.h"
#include "http/failures.h"
#include "http/series.h"
#include "http/server.h"
#include "store/store.h"
#include "spindle/version.h"
#include "testing.h"

namespace spindle {
namespace {

using namespace std::chrono_literals;
using testing::BackendKind;
using testing::Cli;
using testing::Quote;
using testing::TestBackend;
using testing::WaitUntil;

struct Answer {
  int status = 0;
  Json body;
  httplib::Headers headers;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// Sends one request; the body as JSON (null when empty, the text when not JSON).
Answer Send(int port, const std::string& method, const std::string& path,
            const std::string& body = "", httplib::Headers headers = {},
            const std::string& type = "application/json") {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60, 0);
  httplib::Result r = method == "GET"       ? c.Get(path, headers)
                      : method == "POST"    ? c.Post(path, headers, body, type)
                      : method == "PUT"     ? c.Put(path, headers, body, type)
                      : method == "DELETE"  ? c.Delete(path, headers, body, type)
                      : method == "HEAD"    ? c.Head(path, headers)
                      : method == "OPTIONS" ? c.Options(path, headers)
                                            : c.Patch(path, headers, body, type);
  if (!r) throw std::runtime_error("no answer to " + method + " " + path);
  Answer a{r->status, nullptr, r->headers};
  if (!r->body.empty()) a.body = Json::parse(r->body, nullptr, false);
  if (a.body.is_discarded()) a.body = r->body;
  return a;
}

// An error answer: the status, and {"error": error, "reason": ...}.
::testing::AssertionResult IsError(const Answer& a, int status, const std::string& error) {
  if (a.status == status && a.body.is_object() && a.body.value("error", "") == error &&
      !a.body.value("reason", "").empty()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "got " << a.status << " " << a.body.dump() << ", wanted " << status << " " << error;
}

// `spindle serve --http`: the worker runs what the API enqueues, its /metrics says it leads, and
// SIGTERM stops both gracefully.
// The value of one series of a Prometheus text exposition (labels as the server orders them:
// by name); nullopt when absent.
std::optional<double> Sample(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stod(text.substr(at + series.size() + 2));
}

class HttpTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override { client_ = Client::Open({db_->url()}); }
  void TearDown() override { server_.reset(); }

  void Serve(http::ServerOptions o = {}) {
    o.listen = "127.0.0.1:0";
    server_ = std::make_unique<http::Server>(*client_, o);
    server_->Start();
  }
  Answer Get(const std::string& path, httplib::Headers h = {}) {
    return Send(server_->port(), "GET", path, "", std::move(h));
  }
  Answer Post(const std::string& path, const Json& body = Json::object(), httplib::Headers h = {}) {
    return Send(server_->port(), "POST", path, body.dump(), std::move(h));
  }
  std::string Enqueue(const Json& spec) {
    Answer a = Post("/api/v1/jobs", spec);
    EXPECT_EQ(a.status, 201) << a.body.dump();
    return a.body.value("id", "");
  }

  std::unique_ptr<TestBackend> db_ = TestBackend::Make(GetParam());
  std::unique_ptr<Client> client_;
  std::unique_ptr<http::Server> server_;
};

TEST_P(HttpTest, HealthReadinessAndVersion) {
  Serve();
  Answer h = Get("/api/v1/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body["status"], "ok");
  Answer r = Get("/api/v1/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body["schema_version"], Client::KnownSchemaVersion());
  // The build info: project()'s version, as spindle/version.h has it.
  Answer v = Get("/api/v1/version");
  EXPECT_EQ(v.status, 200);
  EXPECT_EQ(v.body["version"], SPINDLE_VERSION);
  EXPECT_EQ(v.body["schema_version"], Client::KnownSchemaVersion());
}

TEST_P(HttpTest, AJobIsEnqueuedShownListedAndSteered) {
  Serve();
  Answer a =
      Post("/api/v1/jobs",
           {{"kind", "email"}, {"args", {{"to", "ada"}}}, {"priority", 3}, {"queue", "mail"}});
  ASSERT_EQ(a.status, 201) << a.body.dump();
  std::string id = a.body["id"];
  EXPECT_EQ(a.body["existing"], false);
  EXPECT_EQ(a.body["queue"], "mail");
  EXPECT_EQ(a.body["served"], false);  // no worker: said, not refused
  EXPECT_NE(a.body.value("warning", "").find("no live worker"), std::string::npos);
  EXPECT_EQ(client_->Get(id).priority, 3);  // in the database, as sent

  Answer one = Get("/api/v1/jobs/" + id);
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.body["id"], id);
  EXPECT_EQ(one.body["state"], "available");
  EXPECT_EQ(one.body["args"]["to"], "ada");
  ASSERT_TRUE(one.body["history"].is_array());
  EXPECT_EQ(one.body["history"][0]["type"], "enqueued");
  // Times are RFC 3339 UTC with milliseconds.
  std::string created = one.body["created_at"];
  EXPECT_EQ(created.size(), 24u) << created;
  EXPECT_EQ(created.back(), 'Z');

  EXPECT_EQ(Post("/api/v1/jobs/" + id + "/stop").body["state"], "stopped");
  EXPECT_EQ(client_->Get(id).state, JobState::kStopped);
  EXPECT_EQ(Post("/api/v1/jobs/" + id + "/resume").body["state"], "available");
  EXPECT_TRUE(IsError(Send(server_->port(), "DELETE", "/api/v1/jobs/" + id), 409, "conflict"));
  EXPECT_EQ(client_->Get(id).state, JobState::kAvailable);  // the refusals changed nothing
  EXPECT_EQ(Post("/api/v1/jobs/" + id + "/cancel").body["state"], "cancelled");
  EXPECT_TRUE(IsError(Post("/api/v1/jobs/" + id + "/cancel"), 409, "conflict"));
  EXPECT_EQ(Post("/api/v1/jobs/" + id + "/retry").body["state"], "available");
  EXPECT_EQ(Post("/api/v1/jobs/" + id + "/cancel").status, 200);
  Answer del = Send(server_->port(), "DELETE", "/api/v1/jobs/" + id);
  EXPECT_EQ(del.status, 200);
  EXPECT_EQ(del.body["id"], id);
  EXPECT_TRUE(IsError(Get("/api/v1/jobs/" + id), 404, "not_found"));
  EXPECT_TRUE(IsError(Post("/api/v1/jobs/" + id + "/retry"), 404, "not_found"));
}

TEST_P(HttpTest, ListsPageWithKeysetCursorsAndFilter) {
  Serve();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Enqueue({{"kind", "a"}}));
  Enqueue({{"kind", "b"}});
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    Answer a = Get("/api/v1/jobs?kind=a&limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(a.status, 200) << a.body.dump();
    EXPECT_EQ(a.body["count"], 5);
    EXPECT_EQ(a.body["count_is_estimate"], false);
    for (const auto& j : a.body["jobs"]) seen.push_back(j["id"]);
    if (a.body["next_cursor"].is_null()) break;
    cursor = a.body["next_cursor"];
  }
  std::reverse(ids.begin(), ids.end());  // newest first
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(Get("/api/v1/jobs?state=available,running").body["count"], 6);
  EXPECT_EQ(Get("/api/v1/jobs?state=failed").body["jobs"].size(), 0u);
  EXPECT_TRUE(IsError(Get("/api/v1/jobs?state=bogus"), 400, "bad_request"));
  EXPECT_TRUE(IsError(Get("/api/v1/jobs?limit=0"), 400, "bad_request"));
  EXPECT_TRUE(IsError(Get("/api/v1/jobs?limit=many"), 400, "bad_request"));
  EXPECT_TRUE(IsError(Get("/api/v1/jobs?at_risk=maybe"), 400, "bad_request"));
}

TEST_P(HttpTest, BatchesSayWhatEachItemBecameAndIdempotencyKeysRepeatNothing) {
  Serve();
  Json all{{"jobs", {{{"kind", "a"}}, {{"kind", "b"}, {"args", {{"n", 1}}}}}}};
  Answer a = Post("/api/v1/jobs", all);
  EXPECT_EQ(a.status, 201) << a.body.dump();
  EXPECT_EQ(a.body["created"], 2);
  Json some{{"jobs", {{{"kind", "a"}}, {{"kind", "a"}, {"args", 7}}, {{"kind", ""}}}}};
  Answer b = Post("/api/v1/jobs", some);
  EXPECT_EQ(b.status, 202) << b.body.dump();
  EXPECT_EQ(b.body["results"][0]["status"], 201);
  EXPECT_TRUE(b.body["results"][0]["id"].is_string());
  EXPECT_EQ(b.body["results"][1]["status"], 400);
  EXPECT_EQ(b.body["results"][2]["status"], 400);
  EXPECT_EQ(client_->Count({}), 3);
  EXPECT_TRUE(IsError(Post("/api/v1/jobs", {{"jobs", {{{"kind", ""}}}}}), 400, "bad_request"));
  EXPECT_TRUE(IsError(Post("/api/v1/jobs", {{"jobs", Json::array()}}), 400, "bad_request"));
  EXPECT_EQ(client_->Count({}), 3);

  httplib::Headers key{{"Idempotency-Key", "order-42"}};
  Answer first = Post("/api/v1/jobs", {{"kind", "charge"}}, key);
  EXPECT_EQ(first.status, 201);
  Answer again = Post("/api/v1/jobs", {{"kind", "charge"}}, key);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body["existing"], true);
  EXPECT_EQ(again.body["id"], first.body["id"]);
  // Also once the job has finished.
  client_->Cancel(first.body["id"]);
  EXPECT_EQ(Post("/api/v1/jobs", {{"kind", "charge"}}, key).body["id"], first.body["id"]);
  Answer batch1 = Post("/api/v1/jobs", all, {{"Idempotency-Key", "b1"}});
  Answer batch2 = Post("/api/v1/jobs", all, {{"Idempotency-Key", "b1"}});
  EXPECT_EQ(batch1.status, 201);
  EXPECT_EQ(batch2.status, 202);
  EXPECT_EQ(batch2.body["created"], 0);
  EXPECT_EQ(batch2.body["results"][1]["id"], batch1.body["results"][1]["id"]);
  EXPECT_EQ(client_->Count({}), 6);
}

TEST_P(HttpTest, EveryErrorHasItsStatusAndShape) {
  Serve({.max_body_bytes = 4096});
  int port = server_->port();
  EXPECT_TRUE(IsError(Send(port, "POST", "/api/v1/jobs", "{\"kind\":"), 400, "bad_request"));
  EXPECT_TRUE(IsError(Send(port, "POST", "/api/v1/jobs", "[1]"), 400, "bad_request"));
  EXPECT_TRUE(
      IsError(Post("/api/v1/jobs", {{"kind", "a"}, {"colour", "red"}}), 400, "bad_request"));
  EXPECT_TRUE(
      IsError(Post("/api/v1/jobs", {{"kind", "a"}, {"priority", "high"}}), 400, "bad_request"));
  EXPECT_TRUE(IsError(Send(port, "POST", "/api/v1/jobs", "kind=a", {}, "text/plain"), 415,
                      "bad_content_type"));
  EXPECT_TRUE(
      IsError(Send(port, "POST", "/api/v1/jobs", std::string(5000, ' ')), 413, "too_large"));
  EXPECT_TRUE(IsError(Get("/api/v1/nothing"), 404, "not_found"));
  EXPECT_TRUE(IsError(Get("/api/v1/jobs/01a2483c-52b0-7242-86df-2f85159be8a3"), 404, "not_found"));
  EXPECT_TRUE(IsError(Get("/api/v1/jobs/not-an-id"), 404, "not_found"));
  Answer wrong = Send(port, "PUT", "/api/v1/jobs", "{}");
  EXPECT_TRUE(IsError(wrong, 405, "method_not_allowed"));
  EXPECT_EQ(wrong.header("Allow"), "GET, POST");
  EXPECT_TRUE(IsError(Post("/api/v1/queues/nowhere/pause"), 404, "not_found"));
  EXPECT_TRUE(IsError(Post("/api/v1/schedules/nightly/run"), 404, "not_found"));
  EXPECT_TRUE(IsError(Get("/api/v1/operations/nope"), 404, "not_found"));
  EXPECT_TRUE(IsError(Get("/api/v1/jobs?after=x"), 400, "bad_request"));  // the CLI's name
  EXPECT_TRUE(IsError(Get("/api/v1/jobs?limit="), 400, "bad_request"));
  EXPECT_TRUE(IsError(Post("/api/v1/jobs", {{"args", Json::object()}}), 400, "bad_request"));
  Answer options = Send(port, "OPTIONS", "/api/v1/jobs");
  EXPECT_TRUE(IsError(options, 405, "method_not_allowed"));
  EXPECT_EQ(options.header("Allow"), "GET, POST");
  EXPECT_EQ(Send(port, "HEAD", "/api/v1/queues").status, 200);
  EXPECT_EQ(client_->Count({}), 0);  // nothing was enqueued by any of them
  // Media types and the bearer scheme are case-insensitive.
  EXPECT_EQ(Send(port, "POST", "/api/v1/jobs", R"({"kind":"a"})", {}, "Application/JSON").status,
            201);
}

TEST_P(HttpTest, QueuesClusterWorkersAndStats) {
  Serve();
  Enqueue({{"kind", "a"}, {"queue", "q1"}});
  Answer qs = Get("/api/v1/queues");
  ASSERT_EQ(qs.status, 200);
  ASSERT_EQ(qs.body["queues"].size(), 1u);
  EXPECT_EQ(qs.body["queues"][0]["name"], "q1");
  EXPECT_EQ(qs.body["queues"][0]["jobs"]["available"], 1);
  EXPECT_EQ(qs.body["queues"][0]["no_consumer"], true);
  EXPECT_TRUE(qs.body["queues"][0]["oldest_available_at"].is_string()) << qs.body.dump();
  EXPECT_EQ(Get("/api/v1/queues/q1").body, qs.body["queues"][0]);
  EXPECT_TRUE(IsError(Get("/api/v1/queues/nope"), 404, "not_found"));
  EXPECT_EQ(Post("/api/v1/queues/q1/pause").body["paused"], true);
  EXPECT_TRUE(client_->Queues()[0].paused_at.has_value());
  EXPECT_EQ(Post("/api/v1/queues/q1/resume").body["paused"], false);

  EXPECT_EQ(Get("/api/v1/cluster").body["stopped"], false);
  auto put = [&](const Json& body) {
    return Send(server_->port(), "PUT", "/api/v1/cluster", body.dump());
  };
  Answer stop = put({{"state", "stopped"}, {"reason", "deploy"}});
  EXPECT_EQ(stop.status, 200);
  EXPECT_EQ(stop.body["reason"], "deploy");
  EXPECT_TRUE(client_->Cluster().stopped_at.has_value());
  EXPECT_TRUE(IsError(put({{"state", "stopped"}}), 409, "conflict"));
  EXPECT_TRUE(IsError(put({{"state", "paused"}}), 400, "bad_request"));
  EXPECT_TRUE(IsError(put({{"state", "stopped"}, {"extra", 1}}), 400, "bad_request"));
  Answer typed = put({{"state", "stopped"}, {"reason", 7}});
  EXPECT_TRUE(IsError(typed, 400, "bad_request"));
  EXPECT_NE(typed.body["reason"].get<std::string>().find("\"reason\""), std::string::npos);
  EXPECT_EQ(put({{"state", "running"}}).body["stopped"], false);

  EXPECT_EQ(Get("/api/v1/cluster/events").body["events"].size(), 0u);
  client_->store().ClusterEventAppend({.kind = "evicted", .worker = "w1", .detail = "by w2"});
  client_->store().ClusterEventAppend({.kind = "rescued", .worker = "w2", .detail = "3 jobs"});
  Json events = Get("/api/v1/cluster/events?limit=1").body["events"];
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["kind"], "rescued");
  EXPECT_EQ(events[0]["worker"], "w2");
  EXPECT_EQ(events[0]["detail"], "3 jobs");
  EXPECT_TRUE(events[0]["at"].is_string());
  EXPECT_TRUE(IsError(Get("/api/v1/cluster/events?limit=0"), 400, "bad_request"));
  EXPECT_EQ(Get("/api/v1/workers").body["workers"].size(), 0u);
  EXPECT_TRUE(Get("/api/v1/leader").body["leader"].is_null());
  EXPECT_EQ(Get("/api/v1/partitions").body["partitions"].size(), 0u);
  EXPECT_EQ(Get("/api/v1/assignments").body["assignments"].size(), 0u);
  EXPECT_EQ(Get("/api/v1/schedules").body["schedules"].size(), 0u);
  EXPECT_EQ(Get("/api/v1/limits").body["limits"].size(), 0u);
  EXPECT_EQ(Get("/api/v1/kinds").body["kinds"].size(), 0u);
  Answer stats = Get("/api/v1/stats");
  EXPECT_EQ(stats.body["jobs"]["available"], 1);
  EXPECT_EQ(stats.body["queues"]["q1"]["available"], 1);
}

TEST_P(HttpTest, TheStatsSeriesSamplesQueuesAndWhatEachKindCompleted) {
  // Driven directly: three samples kept, each a read of the queues and the kinds' counts.
  http::StatsSeries series(*client_, 10s, 3);
  client_->Enqueue({.kind = "a", .queue = "s"});
  SysTime t0 = std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
  ASSERT_TRUE(series.Record(t0));
  // What workers flush of their runs: 4 completed, 1 late. The first read was the baseline.
  client_->store().KindStatsFlush({{"a", {.estimate = 5ms, .samples = 4, .missed = 1}}});
  ASSERT_TRUE(series.Record(t0 + 10s));
  ASSERT_TRUE(series.Record(t0 + 20s));
  ASSERT_TRUE(series.Record(t0 + 30s));  // the first sample goes
  Json all = series.ToJson(std::nullopt, "");
  ASSERT_EQ(all["samples"].size(), 3u) << all.dump();
  EXPECT_EQ(all["interval_ms"], 10000);
  const Json& first = all["samples"][0];
  EXPECT_EQ(first["at"], core::FormatRfc3339(t0 + 10s));
  EXPECT_EQ(first["kinds"]["a"], Json({{"completed", 4}, {"missed", 1}, {"expired", 0}}));
  EXPECT_EQ(first["queues"]["s"]["jobs"]["available"], 1);
  EXPECT_EQ(first["jobs"]["available"], 1);
  EXPECT_GE(first["queues"]["s"]["oldest_available_age_ms"].get<int64_t>(), 10000);
  EXPECT_EQ(all["samples"][1]["kinds"], Json::object());  // nothing new since
  EXPECT_EQ(series.ToJson(t0 + 20s, "s")["samples"].size(), 2u);
  Json other = series.ToJson(std::nullopt, "nope");
  EXPECT_EQ(other["samples"][0]["queues"], Json::object());
  EXPECT_EQ(other["samples"][0]["jobs"]["available"], 1);  // the totals stay the cluster's

  // Served: the server samples on its own every stats_interval.
  Serve({.stats_interval = 100ms, .stats_window = 60s});
  ASSERT_TRUE(WaitUntil([&] { return Get("/api/v1/stats/series").body["samples"].size() >= 2; },
                        60s));
  Answer a = Get("/api/v1/stats/series?queue=s&since=" + core::FormatRfc3339(t0));
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body["samples"][0]["queues"]["s"]["jobs"]["available"], 1) << a.body.dump();
  Answer bad = Get("/api/v1/stats/series?since=yesterday");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.value("reason", "").find("since"), std::string::npos) << bad.body.dump();
  EXPECT_THROW(http::Server(*client_, {.stats_interval = 10ms}), Error);
  EXPECT_THROW(http::Server(*client_, {.stats_interval = 100ms, .stats_window = 24h}), Error);
}

TEST_P(HttpTest, TheStatsSeriesGivesEachQueuesWaitAndRunPercentiles) {
  http::StatsSeries series(*client_, 10s, 10);
  client_->Enqueue({.kind = "slow", .queue = "p"});
  // Nobody runs "late", and its deadline passes: at risk.
  client_->Enqueue({.kind = "late",
                    .queue = "p",
                    .deadline = std::chrono::system_clock::now() + 1ms});
  std::this_thread::sleep_for(20ms);
  SysTime t0 = std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
  ASSERT_TRUE(series.Record(t0));
  Json q = series.ToJson(std::nullopt, "p")["samples"][0]["queues"]["p"];
  EXPECT_EQ(q["wait_p95_ms"], nullptr);  // nothing completed yet
  EXPECT_EQ(q["run_p95_ms"], nullptr);
  EXPECT_EQ(q["at_risk"], 1);
  WorkerOptions o{.database_url = db_->url()};
  o.queues = {QueueOptions{"p", 2}};
  Worker worker(o);
  worker.Register("slow", [](JobContext&) {
    std::this_thread::sleep_for(60ms);
    return JobResult::Done();
  });
  worker.Start();
  ASSERT_TRUE(WaitUntil([&] { return client_->Count({.states = {JobState::kCompleted}}) == 1; },
                        60s));
  worker.Stop();
  ASSERT_TRUE(series.Record(t0 + 10s));
  q = series.ToJson(std::nullopt, "p")["samples"][1]["queues"]["p"];
  EXPECT_GE(q["run_p95_ms"].get<int64_t>(), 60) << q.dump();
  EXPECT_GE(q["wait_p95_ms"].get<int64_t>(), 0) << q.dump();
  // Unchanged counts keep the figures without reading the jobs again.
  ASSERT_TRUE(series.Record(t0 + 20s));
  EXPECT_EQ(series.ToJson(std::nullopt, "p")["samples"][2]["queues"]["p"]["run_p95_ms"],
            q["run_p95_ms"]);
}

TEST_P(HttpTest, ABulkChangeByFilterRunsAsAnOperationWithProgress) {
  Serve();
  std::vector<JobSpec> specs(2500, JobSpec{.kind = "a"});
  client_->EnqueueMany(specs);
  client_->Enqueue({.kind = "other"});
  Json body{{"action", "cancel"}, {"filter", {{"kind", "a"}}}};
  Json dry = body;
  dry["dry_run"] = true;
  Answer count = Post("/api/v1/jobs/bulk", dry);
  EXPECT_EQ(count.status, 200);
  EXPECT_EQ(count.body["matching"], 2500);
  EXPECT_EQ(client_->Count({.states = {JobState::kCancelled}}), 0);
  Answer started = Post("/api/v1/jobs/bulk", body);
  ASSERT_EQ(started.status, 202) << started.body.dump();
  EXPECT_EQ(started.body["total"], 2500);
  std::string where = started.header("Location");
  ASSERT_EQ(where, "/api/v1/operations/" + started.body["id"].get<std::string>());
  Json op;
  ASSERT_TRUE(WaitUntil([&] {
    op = Get(where).body;
    return op["state"] != "running";
  }));
  EXPECT_EQ(op["state"], "done") << op.dump();
  EXPECT_EQ(op["changed"], 2500);
  EXPECT_TRUE(IsError(Post("/api/v1/jobs/bulk", {{"action", "retry"}, {"filter", Json::object()}}),
                      400, "bad_request"));
  // A retry without a state takes failed jobs only, as `spindle jobs retry` does.
  auto matching = [&](const Json& filter) {
    return Post("/api/v1/jobs/bulk", {{"action", "retry"}, {"filter", filter}, {"dry_run", true}})
        .body["matching"];
  };
  EXPECT_EQ(matching({{"kind", "a"}}), 0);
  EXPECT_EQ(matching({{"kind", "a"}, {"state", "cancelled"}}), 2500);
  Answer listed = Get("/api/v1/operations");
  ASSERT_EQ(listed.body["operations"].size(), 1u) << listed.body.dump();
  EXPECT_EQ(listed.body["operations"][0], op);
  EXPECT_EQ(client_->Count({.states = {JobState::kCancelled}}), 2500);
  EXPECT_EQ(client_->Count({.states = {JobState::kAvailable}, .kind = "other"}), 1);

  auto ids = client_->List({.limit = 2});
  Answer by_ids =
      Post("/api/v1/jobs/bulk", {{"action", "retry"}, {"ids", {ids[0].id, ids[1].id, "nope"}}});
  ASSERT_EQ(by_ids.status, 200) << by_ids.body.dump();
  EXPECT_EQ(by_ids.body["results"][0]["status"], 409);  // "other" is available: no retry
  EXPECT_EQ(by_ids.body["results"][1]["status"], 200);
  EXPECT_EQ(by_ids.body["results"][2]["status"], 404);
  EXPECT_TRUE(IsError(Post("/api/v1/jobs/bulk", {{"action", "explode"}, {"ids", Json::array()}}),
                      400, "bad_request"));
  EXPECT_TRUE(IsError(Post("/api/v1/jobs/bulk", {{"action", "cancel"}}), 400, "bad_request"));
  EXPECT_TRUE(IsError(Post("/api/v1/jobs/bulk",
                           {{"action", "cancel"}, {"filter", Json::object()}, {"dry_run", "yes"}}),
                      400, "bad_request"));
  EXPECT_TRUE(IsError(Post("/api/v1/jobs/bulk",
                           {{"action", "cancel"}, {"filter", Json::object()}, {"extra", true}}),
                      400, "bad_request"));
  // A server that stops during an operation stops it after its current page, and returns.
  Answer again =
      Post("/api/v1/jobs/bulk", {{"action", "retry"}, {"filter", {{"state", "cancelled"}}}});
  ASSERT_EQ(again.status, 202);
  server_.reset();
  EXPECT_EQ(client_->Count({}), 2501);  // nothing lost, whatever the operation reached
}

TEST_P(HttpTest, TokensAdmitByScopeAndAreStoredOnlyAsHashes) {
  std::string read = http::NewToken(), operate = http::NewToken(), admin = http::NewToken();
  EXPECT_NE(read, operate);
  EXPECT_EQ(read.rfind("spindle_", 0), 0u);
  Serve({.tokens = {{"dash", http::HashToken(read), http::Scope::kRead},
                    {"ops", http::HashToken(operate), http::Scope::kOperate},
                    {"root", http::HashToken(admin), http::Scope::kAdmin}}});
  auto bearer = [](const std::string& t) {
    return httplib::Headers{{"Authorization", "Bearer " + t}};
  };
  Answer none = Get("/api/v1/jobs");
  EXPECT_TRUE(IsError(none, 401, "unauthorized"));
  EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer realm=\"spindle\"");
  EXPECT_TRUE(IsError(Get("/api/v1/jobs", bearer("spindle_guess")), 401, "unauthorized"));
  EXPECT_EQ(Get("/api/v1/healthz").status, 200);  // public
  EXPECT_EQ(Get("/api/v1/jobs", bearer(read)).status, 200);
  EXPECT_EQ(Get("/api/v1/jobs", {{"Authorization", "bearer " + read}}).status, 200);
  EXPECT_TRUE(IsError(Post("/api/v1/jobs", {{"kind", "a"}}, bearer(read)), 403, "forbidden"));
  Answer made = Post("/api/v1/jobs", {{"kind", "a"}}, bearer(operate));
  ASSERT_EQ(made.status, 201);
  std::string id = made.body["id"];
  EXPECT_EQ(Post("/api/v1/jobs/" + id + "/cancel", Json::object(), bearer(operate)).status, 200);
  EXPECT_TRUE(IsError(Send(server_->port(), "DELETE", "/api/v1/jobs/" + id, "", bearer(operate)),
                      403, "forbidden"));
  EXPECT_TRUE(
      IsError(Post("/api/v1/jobs/bulk", {{"action", "delete"}, {"ids", {id}}}, bearer(operate)),
              403, "forbidden"));
  EXPECT_TRUE(IsError(Send(server_->port(), "PUT", "/api/v1/cluster",
                           Json{{"state", "stopped"}}.dump(), bearer(operate)),
                      403, "forbidden"));
  EXPECT_FALSE(client_->Cluster().stopped_at.has_value());
  EXPECT_EQ(Send(server_->port(), "DELETE", "/api/v1/jobs/" + id, "", bearer(admin)).status, 200);

  // Every change a known caller asked for is in the audit trail, refused ones too, newest first;
  // calls without a valid token are not (they are logged).
  std::vector<std::string> want = {
      "root DELETE /api/v1/jobs/" + id + " 200 ",
      "ops PUT /api/v1/cluster 403 forbidden",
      "ops POST /api/v1/jobs/bulk 403 forbidden",
      "ops DELETE /api/v1/jobs/" + id + " 403 forbidden",
      "ops POST /api/v1/jobs/" + id + "/cancel 200 ",
      "ops POST /api/v1/jobs 201 ",
      "dash POST /api/v1/jobs 403 forbidden"};
  std::vector<std::string> got;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    Answer a = Get("/api/v1/audit?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor),
                   bearer(read));
    ASSERT_EQ(a.status, 200) << a.body.dump();
    for (const auto& e : a.body["entries"]) {
      got.push_back(fmt::format("{} {} {} {} {}", e["who"].get<std::string>(),
                                e["method"].get<std::string>(), e["path"].get<std::string>(),
                                e["status"].get<int>(), e["error"].is_null() ? "" : e["error"]));
      EXPECT_TRUE(e["at"].is_string());
    }
    if (a.body["next_cursor"].is_null()) break;
    cursor = a.body["next_cursor"];
  }
  EXPECT_EQ(got, want);
  EXPECT_TRUE(IsError(Get("/api/v1/audit?cursor=x", bearer(read)), 400, "bad_request"));
  EXPECT_TRUE(IsError(Get("/api/v1/audit"), 401, "unauthorized"));

  // A stranger learns nothing beyond the public routes: not which paths or parameters exist.
  EXPECT_TRUE(IsError(Get("/api/v1/nosuch"), 401, "unauthorized"));
  EXPECT_TRUE(IsError(Get("/api/v1/audit?bogus=1"), 401, "unauthorized"));
  EXPECT_TRUE(IsError(Post("/api/v1/audit"), 401, "unauthorized"));
  EXPECT_TRUE(IsError(Get("/api/v1/nosuch", bearer(read)), 404, "not_found"));
  // A known caller's refused change is in the trail, whatever refused it.
  EXPECT_TRUE(IsError(Post("/api/v1/queues/default/pause?x=1", Json::object(), bearer(operate)),
                      400, "bad_request"));
  auto last = client_->AuditList(std::nullopt, 1);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].who, "ops");
  EXPECT_EQ(last[0].error, "bad_request");
  EXPECT_EQ(last[0].path, "/api/v1/queues/default/pause");
}

// q searches inside args as well as by state, queue and kind, on both backends; bad terms are
// 400 naming the term, and bulk changes refuse to select by args.
TEST_P(HttpTest, SearchFindsJobsByTheirArgs) {
  Serve();
  std::string a = Enqueue({{"kind", "email"}, {"args", {{"customer_id", 42}, {"address", {{"city", "New York"}}}}}});
  std::string b = Enqueue({{"kind", "email"}, {"args", {{"customer_id", "42"}}}});
  std::string c = Enqueue({{"kind", "sms"}, {"args", {{"customer_id", 42}, {"vip", true}}}});
  Enqueue({{"kind", "email"}, {"args", {{"customer_id", 7}}}});
  auto ids = [&](const std::string& q) {
    Answer r = Get("/api/v1/jobs?q=" + httplib::detail::encode_query_param(q));
    EXPECT_EQ(r.status, 200) << q << ": " << r.body.dump();
    std::vector<std::string> out;
    for (const auto& j : r.body["jobs"]) out.push_back(j["id"]);
    std::sort(out.begin(), out.end());
    return out;
  };
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(ids("args.customer_id:42"), sorted({a, c}));
  EXPECT_EQ(ids("args.customer_id:42 kind:email"), sorted({a}));
  EXPECT_EQ(ids("args.customer_id:\"42\""), sorted({b}));
  EXPECT_EQ(ids("args.address.city:\"New York\""), sorted({a}));
  EXPECT_EQ(ids("args.vip:true state:available"), sorted({c}));
  EXPECT_EQ(ids("  kind:sms   "), sorted({c}));
  EXPECT_TRUE(ids("args.customer_id:42 state:completed").empty());
  EXPECT_TRUE(ids("args.nothing:1").empty());
  Answer counted = Get("/api/v1/jobs?limit=1&q=args.customer_id:42");
  EXPECT_EQ(counted.body["count"], 2);
  for (const char* bad : {"kind", "kind:", "color:red", "args.:1", "args.a..b:1",
                          "args.x:\"open", "kind:a kind:b"}) {
    Answer r = Get("/api/v1/jobs?q=" + httplib::detail::encode_query_param(bad));
    EXPECT_TRUE(IsError(r, 400, "bad_request")) << bad;
  }
  EXPECT_TRUE(IsError(Get("/api/v1/jobs?kind=a&q=kind:b"), 400, "bad_request"));
  EXPECT_TRUE(IsError(Get("/api/v1/jobs?limit=2&limit=3"), 400, "bad_request"));
  Answer bulk = Post("/api/v1/jobs/bulk",
                     {{"action", "cancel"}, {"filter", {{"q", "args.customer_id:42"}}}});
  EXPECT_TRUE(IsError(bulk, 400, "bad_request")) << bulk.body.dump();
  EXPECT_EQ(client_->Count({.states = {JobState::kCancelled}}), 0);
}

TEST_P(HttpTest, FiltersByPriorityAndByTime) {
  Serve();
  std::string a = Enqueue({{"kind", "f"}, {"priority", 1}});
  std::this_thread::sleep_for(50ms);
  std::string t = core::FormatRfc3339(std::chrono::system_clock::now());
  std::this_thread::sleep_for(50ms);
  std::string b = Enqueue({{"kind", "f"}, {"priority", 2}});
  ASSERT_EQ(Post("/api/v1/jobs/" + a + "/cancel").status, 200);
  // One per page: the count is read too.
  auto only = [&](const std::string& query) {
    Answer r = Get("/api/v1/jobs?limit=1&" + query);
    EXPECT_EQ(r.status, 200) << query << ": " << r.body.dump();
    EXPECT_EQ(r.body["count"], 1) << query;
    return r.body["jobs"].size() == 1 ? r.body["jobs"][0]["id"].get<std::string>() : "";
  };
  EXPECT_EQ(only("priority=2"), b);
  EXPECT_EQ(only("q=priority:1"), a);
  EXPECT_EQ(only("created_before=" + t), a);
  EXPECT_EQ(only("created_after=" + t), b);
  EXPECT_EQ(only("finished_after=" + t), a);
  EXPECT_EQ(only("finished_before=2100-01-01T00:00:00Z"), a);
  EXPECT_EQ(Get("/api/v1/jobs?created_after=" + t + "&priority=1").body["jobs"].size(), 0u);
  // At the millisecond shown: a job's own created_at is neither after nor before it.
  std::string shown = Get("/api/v1/jobs/" + a).body["created_at"];
  for (const char* bound : {"created_after=", "created_before="}) {
    Answer r = Get("/api/v1/jobs?kind=f&" + std::string(bound) + shown);
    for (const auto& j : r.body["jobs"]) EXPECT_NE(j["id"], a) << bound << shown;
  }
  for (const char* bad : {"priority=high", "q=priority:x", "created_after=noon",
                          "finished_before=2026-02-30T00:00:00Z"}) {
    Answer r = Get(std::string("/api/v1/jobs?") + bad);
    EXPECT_EQ(r.status, 400) << bad;
  }
  EXPECT_THROW(Client::BulkFilter(Client::BulkAction::kCancel, {.priority = 1}), Error);

  // Big tables: counted exactly up to a cap, estimated beyond it.
  for (int i = 0; i < 3; ++i) client_->Enqueue({.kind = "g"});
  JobTally exact = client_->CountUpTo({.kind = "g"}, 10);
  EXPECT_EQ(exact.count, 3);
  EXPECT_FALSE(exact.estimate);
  JobTally capped = client_->CountUpTo({.kind = "g"}, 2);
  EXPECT_TRUE(capped.estimate);
  EXPECT_GE(capped.count, 2);
  EXPECT_FALSE(client_->CountUpTo({.kind = "g"}, 3).estimate);  // exactly the cap: still exact
}

TEST_P(HttpTest, AReadOnlyServerChangesNothing) {
  std::string admin = http::NewToken();
  Serve({.tokens = {{"root", http::HashToken(admin), http::Scope::kAdmin}}, .read_only = true});
  httplib::Headers h{{"Authorization", "Bearer " + admin}};
  EXPECT_EQ(Get("/api/v1/jobs", h).status, 200);
  EXPECT_TRUE(IsError(Post("/api/v1/jobs", {{"kind", "a"}}, h), 403, "read_only"));
  EXPECT_EQ(client_->Count({}), 0);
  // Not even the audit trail: a read-only server may run on a read-only database role.
  EXPECT_TRUE(client_->AuditList(std::nullopt, 10).empty());
}

TEST(HttpFailuresTest, AnErrorsFirstLineIsMaskedOfNumbersAndIds) {
  EXPECT_EQ(http::MaskError("job 42 timed out after 3.5s"), "job N timed out after N.Ns");
  EXPECT_EQ(http::MaskError("order 7 declined by gateway 01a24a8e-e01c-7622-a134-a3a53feee4ab"),
            "order N declined by gateway <id>");
  EXPECT_EQ(http::MaskError("commit deadbeef42 not found\nstack line 12"),
            "commit <id> not found");
  EXPECT_EQ(http::MaskError("user_17 and tx-9: bad"), "user_N and tx-N: bad");
  EXPECT_EQ(http::MaskError("no digits, no change"), "no digits, no change");
  Job a{.kind = "charge"}, b{.kind = "charge"}, c{.kind = "refund"};
  a.errors = {{.attempt = 1, .message = "card 4242 declined"}};
  b.errors = {{.attempt = 1, .message = "old"}, {.attempt = 2, .message = "card 1111 declined"}};
  c.errors = a.errors;
  EXPECT_EQ(http::Fingerprint(a), http::Fingerprint(b));  // the latest error counts
  EXPECT_NE(http::Fingerprint(a), http::Fingerprint(c));  // and the kind
  EXPECT_EQ(http::Fingerprint(a).size(), 16u);
}

TEST_P(HttpTest, FailuresAreGroupedAndAGroupIsRetriedAsAnOperation) {
  WorkerOptions o{.database_url = db_->url()};
  o.queues = {QueueOptions{"default", 8}};
  Worker worker(o);
  worker.Register("charge", [](JobContext& ctx) {
    int n = ctx.job.args.value("n", 0);
    return JobResult::Error(n % 3 == 0 ? fmt::format("card {} declined", n)
                                       : fmt::format("gateway timeout after {}ms", n * 10));
  });
  std::vector<JobSpec> specs;
  for (int n = 0; n < 30; ++n) {
    specs.push_back({.kind = "charge", .args = {{"n", n}}, .max_attempts = 1});
  }
  client_->EnqueueMany(specs);
  worker.Start();
  ASSERT_TRUE(WaitUntil([&] { return client_->Count({.states = {JobState::kFailed}}) == 30; }, 60s));
  worker.Stop();
  Serve();
  Answer a = Get("/api/v1/failures");
  ASSERT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["scanned"], 30);
  EXPECT_EQ(a.body["complete"], true);
  ASSERT_EQ(a.body["groups"].size(), 2u) << a.body.dump();
  const Json& top = a.body["groups"][0];  // most first
  EXPECT_EQ(top["count"], 20);
  EXPECT_EQ(top["kind"], "charge");
  EXPECT_EQ(top["message"], "gateway timeout after Nms");
  EXPECT_EQ(a.body["groups"][1]["count"], 10);
  EXPECT_EQ(a.body["groups"][1]["message"], "card N declined");
  // Narrowed, and bounded.
  EXPECT_EQ(Get("/api/v1/failures?kind=other").body["groups"].size(), 0u);
  Answer some = Get("/api/v1/failures?scan=5");
  EXPECT_EQ(some.body["scanned"], 5);
  EXPECT_EQ(some.body["complete"], false);
  EXPECT_TRUE(IsError(Get("/api/v1/failures?scan=0"), 400, "bad_request"));

  Answer op = Post("/api/v1/failures/" + top["fingerprint"].get<std::string>() + "/retry");
  ASSERT_EQ(op.status, 202) << op.body.dump();
  EXPECT_EQ(op.header("Location"), "/api/v1/operations/" + op.body["id"].get<std::string>());
  Json done;
  ASSERT_TRUE(WaitUntil(
      [&] {
        done = Get("/api/v1/operations/" + op.body["id"].get<std::string>()).body;
        return done["state"] != "running";
      },
      60s));
  EXPECT_EQ(done["state"], "done") << done.dump();
  EXPECT_EQ(done["action"], "retry_failures");
  EXPECT_EQ(done["total"], 20);
  EXPECT_EQ(done["changed"], 20);
  EXPECT_EQ(client_->Count({.states = {JobState::kAvailable}}), 20);
  EXPECT_EQ(client_->Count({.states = {JobState::kFailed}}), 10);
  // A group nobody has: an operation that changes nothing.
  Answer none = Post("/api/v1/failures/0000000000000000/retry");
  ASSERT_EQ(none.status, 202);
  ASSERT_TRUE(WaitUntil(
      [&] {
        done = Get("/api/v1/operations/" + none.body["id"].get<std::string>()).body;
        return done["state"] != "running";
      },
      60s));
  EXPECT_EQ(done["total"], 0);
  EXPECT_EQ(client_->Count({.states = {JobState::kFailed}}), 10);
}

TEST_P(HttpTest, TheDashboardIsServedToAnyoneAndTheSessionSaysWhoCalls) {
  std::string read = http::NewToken();
  Serve({.tokens = {{"viewer", http::HashToken(read), http::Scope::kRead}}, .read_only = true});
  Answer page = Get("/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page.body.get<std::string>().find("/ui/app.js"), std::string::npos);
  EXPECT_NE(page.header("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(Get("/ui/app.js").header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(Get("/ui/app.css").status, 200);
  EXPECT_TRUE(IsError(Get("/ui/nothing.js"), 404, "not_found"));
  // Public, so that a page learns it must sign in without an error in the browser's console.
  EXPECT_EQ(Get("/api/v1/session").body,
            (Json{{"who", nullptr}, {"scope", nullptr}, {"read_only", true}}));
  EXPECT_EQ(Get("/api/v1/session", {{"Authorization", "Bearer spindle_guess"}}).body["who"],
            nullptr);
  Answer s = Get("/api/v1/session", {{"Authorization", "Bearer " + read}});
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.body, (Json{{"who", "viewer"}, {"scope", "read"}, {"read_only", true}}));
}

TEST_P(HttpTest, AnAddressBeyondLoopbackNeedsTokens) {
  try {
    http::Server s(*client_, {.listen = "0.0.0.0:0"});
    FAIL() << "served 0.0.0.0 without tokens";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("not a loopback address"), std::string::npos);
  }
  for (const char* bad : {"7777", "127.0.0.1:", "127.0.0.1:99999", ":7777"}) {
    EXPECT_THROW(http::Server(*client_, {.listen = bad}), Error) << bad;
  }
  EXPECT_THROW(http::Server(*client_, {.tokens = {{"x", "not-a-hash", http::Scope::kRead}}}),
               Error);
  std::string h = http::HashToken("t");
  EXPECT_THROW(http::Server(*client_, {.tokens = {{"x", h, http::Scope::kRead},
                                                  {"x", h, http::Scope::kAdmin}}}),
               Error);
  Serve();
  http::Server second(*client_, {.listen = "127.0.0.1:" + std::to_string(server_->port())});
  try {
    second.Start();
    FAIL() << "bound a port in use";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

// /metrics: Prometheus' text format, valid by promtool's check; the cluster's gauges from the
// database; the server's own requests counted with bounded labels.
TEST_P(HttpTest, MetricsAreValidPrometheusTextWithBoundedLabels) {
  Serve();
  Enqueue({{"kind", "a"}, {"queue", "q1"}});
  Enqueue({{"kind", "a"}, {"queue", "q1"}});
  client_->PauseQueue("q1");
  client_->store().KindStatsFlush({{"a", {.estimate = 1500ms, .samples = 3, .missed = 1}}});
  Get("/api/v1/jobs/01a2483c-52b0-7242-86df-2f85159be8a3");  // a 404, counted by route
  Answer m = Get("/metrics");
  ASSERT_EQ(m.status, 200);
  ASSERT_TRUE(m.body.is_string());
  std::string text = m.body;
  for (const char* want :
       {"spindle_build_info{", "spindle_jobs{queue=\"q1\",state=\"available\"} 2",
        "spindle_queue_paused{queue=\"q1\"} 1", "spindle_queue_consumers{queue=\"q1\"} 0",
        "spindle_cluster_workers 0", "spindle_cluster_leader_present 0",
        "spindle_cluster_stopped 0", "spindle_kind_deadlines_missed{kind=\"a\"} 1",
        "spindle_kind_run_seconds_p90{kind=\"a\"} 1.5",
        "spindle_queue_oldest_available_age_seconds{queue=\"q1\"} ",
        "spindle_http_requests_total{method=\"POST\",route=\"/api/v1/jobs\",status=\"201\"} 2",
        "route=\"/api/v1/jobs/{id}\",status=\"404\"} 1",
        "spindle_http_request_duration_seconds_bucket{"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << " not in:\n" << text;
  }
  EXPECT_EQ(text.find("01a2483c"), std::string::npos);  // never an id in a label
  auto check = testing::RunCommand("/usr/bin/promtool", "check metrics", text);
  EXPECT_EQ(check.status, 0) << check.output;

}

// The OpenAPI document names every route with its method, and nothing else; every route it
// names answers (not 404 "no such endpoint", not 405).
TEST_P(HttpTest, TheOpenApiDocumentDescribesEveryRoute) {
  Serve();
  Answer doc = Get("/api/v1/openapi.json");
  ASSERT_EQ(doc.status, 200);
  EXPECT_EQ(doc.body["openapi"], "3.0.3");
  size_t documented = 0;
  for (const auto& [path, methods] : doc.body["paths"].items()) {
    for (const auto& [method, op] : methods.items()) {
      ++documented;
      EXPECT_FALSE(op.value("summary", "").empty()) << method << " " << path;
      EXPECT_TRUE(op["responses"].contains("default")) << method << " " << path;
      std::string m = method;
      for (auto& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      std::string concrete = path;
      for (size_t at; (at = concrete.find('{')) != std::string::npos;) {
        concrete.replace(at, concrete.find('}') - at + 1, "x");
      }
      if (concrete.ends_with("/events/stream")) continue;  // streams until closed: EventsTest
      if (concrete.ends_with("/events")) concrete += "?wait=0";
      Answer a = Send(server_->port(), m, concrete, "{}");
      EXPECT_NE(a.status, 405) << m << " " << concrete;
      EXPECT_FALSE(a.status == 404 &&
                   a.body.value("reason", "").find("no such endpoint") != std::string::npos)
          << m << " " << concrete;
    }
  }
  EXPECT_EQ(documented, server_->router().routes().size());
  EXPECT_GE(documented, 25u);
}

// A database that cannot be reached: 503 with Retry-After, from readyz and from every call.
TEST(HttpDatabaseTest, AnUnreachableDatabaseIs503WithRetryAfter) {
  auto db = TestBackend::Make(BackendKind::kPostgres);
  auto client = Client::Open({db->url()});
  http::Server server(*client, {.listen = "127.0.0.1:0"});
  server.Start();
  ASSERT_EQ(Send(server.port(), "GET", "/api/v1/readyz").status, 200);
  // No new connections to it, and its open ones ended.
  std::string name = db->Query("SELECT current_database()");
  PGconn* admin = PQconnectdb(std::getenv("SPINDLE_TEST_DATABASE"));
  ASSERT_EQ(PQstatus(admin), CONNECTION_OK);
  auto run = [&](const std::string& sql) { PQclear(PQexec(admin, sql.c_str())); };
  run(fmt::format("ALTER DATABASE \"{}\" ALLOW_CONNECTIONS false", name));
  run(fmt::format("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                  name));
  for (const char* path : {"/api/v1/readyz", "/api/v1/jobs"}) {
    Answer a = Send(server.port(), "GET", path);
    EXPECT_TRUE(IsError(a, 503, "unavailable")) << path;
    EXPECT_EQ(a.header("Retry-After"), "5") << path;
  }
  run(fmt::format("ALTER DATABASE \"{}\" ALLOW_CONNECTIONS true", name));
  PQfinish(admin);
  EXPECT_TRUE(
      WaitUntil([&] { return Send(server.port(), "GET", "/api/v1/readyz").status == 200; }));
}

// Every curl example of docs/api.md and docs/metrics.md runs as written against a live server
// (its address and ID filled in) and answers without an error.
TEST(HttpDocsTest, EveryCurlExampleWorks) {
  auto db = TestBackend::Make(BackendKind::kSqlite);
  auto client = Client::Open({db->url()});
  http::Server server(*client, {.listen = "127.0.0.1:0"});
  server.Start();
  int ran = 0;
  for (const char* doc : {"docs/api.md", "docs/metrics.md"}) {
    std::istringstream lines(testing::ReadFile(std::string(SOURCE_DIR) + "/" + doc));
    bool fenced = false;
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("```", 0) == 0) fenced = !fenced;
      // A stream runs until stopped: EventStreamsSeeJobsRunLiveAndShareOneReader covers it.
      if (!fenced || line.rfind("curl ", 0) != 0 ||
          line.find("until Ctrl-C") != std::string::npos) {
        continue;
      }
      std::string id = client->Enqueue({.kind = "hello"});
      std::string cmd = line;
      for (auto [from, to] : {std::pair<std::string, std::string>{
                                  "127.0.0.1:7777", "127.0.0.1:" + std::to_string(server.port())},
                              {"/ID", "/" + id}}) {
        for (size_t at; (at = cmd.find(from)) != std::string::npos;)
          cmd.replace(at, from.size(), to);
      }
      auto r = testing::RunCommand("bash", "-c " + Quote(cmd));
      ++ran;
      EXPECT_EQ(r.status, 0) << doc << ": " << line << "\n" << r.output;
      if (r.out.rfind("# HELP", 0) == 0) continue;  // /metrics
      Json body = Json::parse(r.out, nullptr, false);
      EXPECT_FALSE(body.is_discarded()) << doc << ": " << line << "\n" << r.output;
      EXPECT_FALSE(body.is_object() && body.contains("error")) << doc << ": " << line << "\n"
                                                               << r.output;
    }
  }
  EXPECT_GE(ran, 15);
}

// The events feed by long-poll: a change after the last id seen comes as an event.
TEST_P(HttpTest, LongPollReturnsWhatChangedAfterTheLastEventSeen) {
  Serve({.events_interval = 50ms});
  std::string last = Get("/api/v1/events?wait=0").body["last_id"];
  Json got;
  // The feed starts reading once someone listens; enqueue until a change is seen.
  ASSERT_TRUE(WaitUntil(
      [&] {
        Enqueue({{"kind", "a"}, {"queue", "polled"}});
        got = Get("/api/v1/events?wait=2&after=" + last).body;
        return std::any_of(got["events"].begin(), got["events"].end(),
                           [](const Json& e) { return e["type"] == "queue"; });
      },
      60s));
  // The enqueue itself comes too, as a control action.
  const Json& e = *std::find_if(got["events"].begin(), got["events"].end(),
                                [](const Json& e) { return e["type"] == "queue"; });
  EXPECT_EQ(e["data"]["name"], "polled");
  EXPECT_GT(std::stoll(e["id"].get<std::string>()), std::stoll(last));
  EXPECT_EQ(got["last_id"], got["events"].back()["id"]);
  // Nothing new: an empty answer after the wait, the same last id.
  Answer quiet = Get("/api/v1/events?wait=0&after=" + got["last_id"].get<std::string>());
  EXPECT_TRUE(quiet.body["events"].empty());
  EXPECT_TRUE(IsError(Get("/api/v1/events?wait=61"), 400, "bad_request"));
  // An id past the last (another server's, or from before a restart): a gap, and where to go on.
  Answer past = Get("/api/v1/events?wait=0&after=999999");
  EXPECT_EQ(past.body["gap"], true);
  EXPECT_EQ(past.body["last_id"], got["last_id"]);
  EXPECT_TRUE(IsError(Get("/api/v1/events", {{"Last-Event-ID", "x"}}), 400, "bad_request"));
}

// Control actions (from the audit trail, so any server's) and the attempts of the worker beside
// the server come as events, each once and in order.
TEST_P(HttpTest, ControlActionsAndTheAttemptsOfTheWorkerBesideAreEvents) {
  WorkerOptions o{.database_url = db_->url()};
  o.poll_interval = 50ms;
  o.queues = {QueueOptions{"ev", 2}};
  auto instruments = std::make_shared<http::Instruments>(&o);
  o.observer = instruments;
  Serve({.instruments = instruments, .events_interval = 50ms});
  std::string last = Get("/api/v1/events?wait=0").body["last_id"];
  ASSERT_TRUE(WaitUntil([&] { return server_->event_reads() >= 1; }, 60s));  // the baseline
  std::string id = Enqueue({{"kind", "a"}, {"queue", "ev"}});
  ASSERT_EQ(Post("/api/v1/queues/ev/pause").status, 200);
  ASSERT_EQ(Post("/api/v1/jobs/0198f0e2-0000-7000-8000-000000000000/cancel").status, 404);
  ASSERT_EQ(Post("/api/v1/queues/ev/resume").status, 200);
  Worker worker(o);
  worker.Register("a", [](JobContext&) { return JobResult::Done(); });
  worker.Start();
  std::vector<Json> seen;
  auto has = [&](const std::string& type, const std::string& key, const std::string& value) {
    return std::count_if(seen.begin(), seen.end(), [&](const Json& e) {
      return e["type"] == type && e["data"].value(key, "") == value;
    });
  };
  ASSERT_TRUE(WaitUntil(
      [&] {
        Json got = Get("/api/v1/events?wait=2&after=" + last).body;
        for (const auto& e : got["events"]) seen.push_back(e);
        last = got["last_id"];
        return has("job", "outcome", "completed") > 0;
      },
      120s));
  // PostgreSQL's notifications of new jobs say when they were sent: the worker measures their lag.
  if (GetParam() == BackendKind::kPostgres) {
    std::string text;
    EXPECT_TRUE(WaitUntil([&] {
      client_->Enqueue({.kind = "a", .queue = "ev"});
      text = Get("/metrics").body;
      return Sample(text, "spindle_notification_lag_seconds_count").value_or(0) >= 1;
    }, 60s)) << text;
  }
  worker.Stop();
  EXPECT_EQ(has("control", "path", "/api/v1/queues/ev/pause"), 1);
  EXPECT_EQ(has("control", "path", "/api/v1/queues/ev/resume"), 1);
  EXPECT_EQ(has("control", "path", "/api/v1/jobs"), 1);
  for (const auto& e : seen) {  // a refusal changed nothing
    EXPECT_EQ(e["data"].value("path", "").find("/cancel"), std::string::npos);
  }
  std::vector<std::string> attempts;
  for (const auto& e : seen) {
    if (e["type"] != "job") continue;
    EXPECT_EQ(e["data"]["id"], id);
    EXPECT_EQ(e["data"]["kind"], "a");
    EXPECT_EQ(e["data"]["queue"], "ev");
    EXPECT_EQ(e["data"]["attempt"], 1);
    attempts.push_back(e["data"]["outcome"]);
  }
  EXPECT_EQ(attempts, (std::vector<std::string>{"started", "completed"}));
  auto pause = std::find_if(seen.begin(), seen.end(), [](const Json& e) {
    return e["data"].value("path", "") == "/api/v1/queues/ev/pause";
  });
  ASSERT_NE(pause, seen.end());
  EXPECT_EQ((*pause)["data"]["who"], "local");
  EXPECT_EQ((*pause)["data"]["method"], "POST");
  EXPECT_EQ((*pause)["data"]["status"], 200);
}

// Server-Sent Events: a client sees the queue's counts change live as a worker runs jobs, and
// the worker join; twenty open streams cost the database no more than one (one hub reads).
TEST_P(HttpTest, EventStreamsSeeJobsRunLiveAndShareOneReader) {
  Serve({.events_interval = 50ms});
  struct Stream {
    std::string text;
    std::mutex mu;
    std::atomic<bool> stop{false};
    std::thread thread;
  };
  auto open = [&](Stream& s) {
    s.thread = std::thread([&s, port = server_->port()] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(60, 0);
      c.Get("/api/v1/events/stream", [&](const char* data, size_t n) {
        std::lock_guard lock(s.mu);
        s.text.append(data, n);
        return !s.stop;
      });
    });
  };
  auto seen = [](Stream& s, const std::string& what) {
    std::lock_guard lock(s.mu);
    return s.text.find(what) != std::string::npos;
  };
  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < 20; ++i) {
    streams.push_back(std::make_unique<Stream>());
    open(*streams.back());
  }
  for (auto& s : streams) ASSERT_TRUE(WaitUntil([&] { return seen(*s, "retry: 2000"); }, 60s));
  std::this_thread::sleep_for(300ms);  // the hub's first read: the baseline
  int64_t reads_before = server_->event_reads();
  auto t0 = std::chrono::steady_clock::now();

  WorkerOptions o{.database_url = db_->url()};
  o.poll_interval = 50ms;
  o.queues = {QueueOptions{"live", 10}};
  Worker worker(o);
  worker.Register("a", [](JobContext&) { return JobResult::Done(); });
  worker.Start();
  std::vector<JobSpec> specs(20, JobSpec{.kind = "a", .queue = "live"});
  client_->EnqueueMany(specs);
  for (auto& s : streams) {
    ASSERT_TRUE(WaitUntil([&] { return seen(*s, "\"completed\":20"); }, 120s)) << s->text;
    EXPECT_TRUE(seen(*s, "event: worker_joined"));
    EXPECT_TRUE(seen(*s, "event: queue\ndata: {\"at\""));
  }
  // Reads followed the hub's interval, not the number of streams.
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int64_t reads = server_->event_reads() - reads_before;
  EXPECT_LE(reads, static_cast<int64_t>(seconds / 0.05) + 2) << reads << " in " << seconds << " s";
  worker.Stop();
  for (auto& s : streams) s->stop = true;
  server_->Stop();  // ends the streams that are waiting
  for (auto& s : streams) s->thread.join();
}

// Seen from PostgreSQL: twenty open event streams cost the database what one does, the hub's
// reads, and no query per stream. Each round's server and its connections end before the count,
// for their backends report their transactions as they exit.
TEST(HttpDatabaseTest, TwentyEventStreamsCostTheDatabaseWhatOneDoes) {
  auto db = TestBackend::Make(BackendKind::kPostgres);
  auto transactions = [&] {
    return db->QueryInt(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database "
        "WHERE datname = current_database()");
  };
  auto per_read = [&](int n) {
    int64_t before = transactions();
    int64_t reads = 0;
    {
      auto client = Client::Open({db->url()});
      http::Server server(*client, {.listen = "127.0.0.1:0", .events_interval = 50ms});
      server.Start();
      std::atomic<bool> stop{false};
      std::atomic<int> open{0};
      std::vector<std::thread> streams;
      for (int i = 0; i < n; ++i) {
        streams.emplace_back([&, port = server.port()] {
          httplib::Client c("127.0.0.1", port);
          bool counted = false;
          c.Get("/api/v1/events/stream", [&](const char*, size_t) {
            if (!counted) ++open;
            counted = true;
            return !stop;
          });
        });
      }
      EXPECT_TRUE(WaitUntil([&] { return open == n; }, 60s));
      int64_t from = server.event_reads();
      EXPECT_TRUE(WaitUntil([&] { return server.event_reads() >= from + 40; }, 120s));
      stop = true;
      server.Stop();
      for (auto& t : streams) t.join();
      reads = server.event_reads();
    }
    EXPECT_TRUE(WaitUntil([&] {
      return db->QueryInt("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                          "current_database() AND pid <> pg_backend_pid()") == 0;
    }, 60s));
    return static_cast<double>(transactions() - before) / static_cast<double>(reads);
  };
  double one = per_read(1);
  double twenty = per_read(20);
  std::cout << "transactions per hub read: one stream " << one << ", twenty " << twenty << "\n";
  EXPECT_GE(one, 3.0);  // the hub reads queues, cluster, members and the audit trail
  EXPECT_LT(twenty, one * 1.25 + 1) << "one stream: " << one << ", twenty: " << twenty
                                    << " transactions per read";
}

// Event streams hold a thread each: past half the server's threads, a stream is refused (503)
// and the other calls are still answered.
TEST_P(HttpTest, TooManyEventStreamsAreRefusedAndHealthStillAnswers) {
  Serve({.threads = 4});
  std::atomic<bool> stop{false};
  std::vector<std::thread> streams;
  std::atomic<int> opened{0};
  for (int i = 0; i < 2; ++i) {
    streams.emplace_back([&, port = server_->port()] {
      httplib::Client c("127.0.0.1", port);
      c.Get("/api/v1/events/stream", [&](const char*, size_t) {
        static thread_local bool counted = false;
        if (!counted) ++opened;
        counted = true;
        return !stop;
      });
    });
  }
  ASSERT_TRUE(WaitUntil([&] { return opened == 2; }, 60s));
  Answer third = Get("/api/v1/events/stream");
  EXPECT_TRUE(IsError(third, 503, "unavailable"));
  EXPECT_EQ(third.header("Retry-After"), "5");
  EXPECT_EQ(Get("/api/v1/healthz").status, 200);
  stop = true;
  server_->Stop();
  for (auto& t : streams) t.join();
}

// A loopback port nobody listens on now.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t n = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), n) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n) != 0) {
    throw std::runtime_error("no free port");
  }
  close(fd);
  return ntohs(a.sin_port);
}


// /metrics beside a worker publishes what the worker tells its observer: attempts by outcome,
// retries, jobs finalized, deadlines missed, rescues, expiries, waits, runs and fetches, slots,
// elections, and what the API enqueued. The shipped alerts and dashboard use only what exists.
TEST_P(HttpTest, MetricsCountWhatTheWorkerBesideDid) {
  WorkerOptions o{.database_url = db_->url()};
  o.poll_interval = 50ms;
  o.rescue_interval = 100ms;
  o.expire_interval = 100ms;
  o.backoff.base = 10ms;
  o.queues = {QueueOptions{"m", 4}};
  o.cluster.heartbeat_interval = 200ms;
  o.cluster.heartbeat_timeout = 2000ms;
  auto instruments = std::make_shared<http::Instruments>(&o);
  o.observer = instruments;
  Serve({.instruments = instruments});
  for (int i = 0; i < 3; ++i) Enqueue({{"kind", "ok"}, {"queue", "m"}});
  Enqueue({{"kind", "bad"}, {"queue", "m"}, {"max_attempts", 2}});
  Enqueue({{"kind", "ok"}, {"queue", "m"}, {"deadline", "2001-01-01T00:00:00Z"}});
  Enqueue({{"kind", "ok"}, {"queue", "m"}, {"expires_at", "2001-01-01T00:00:00Z"}});
  // A job leased by a worker that died: its 1 ms lease runs out, and the leader rescues it.
  std::string stranded = client_->Enqueue({.kind = "ok", .queue = "m"});
  auto leased = client_->store().JobFetch({.queue = "m", .limit = 10, .worker_id = "ghost",
                                           .lease = 1ms, .kinds = {"ok"}});
  ASSERT_EQ(leased.size(), 5u);  // the 4 others of its kind too: all rescued, all run again
  Worker worker(o);
  worker.Register("ok", [](JobContext&) { return JobResult::Done(); });
  worker.Register("bad", [](JobContext&) { return JobResult::Error("no"); });
  worker.Start();
  // The leader's loops count what they did after it committed: wait for their counts too.
  std::string text;
  ASSERT_TRUE(WaitUntil([&] {
    text = Get("/metrics").body;
    return client_->Count({.states = {JobState::kCompleted}}) == 5 &&
           client_->Count({.states = {JobState::kFailed}}) == 1 &&
           client_->Count({.states = {JobState::kExpired}}) == 1 &&
           Sample(text, "spindle_rescues_total{reason=\"lease_expired\"}") == 5 &&
           Sample(text, "spindle_jobs_expired_total") == 1 &&
           Sample(text, "spindle_leader_elections_total") >= 1;
  }, 120s)) << text;
  client_->store().KindStatsFlush({{"ok", {.estimate = 10ms, .samples = 1, .missed = 0}}});
  text = Get("/metrics").body;
  worker.Stop();
  auto at = [&](const std::string& series) {
    auto v = Sample(text, series);
    EXPECT_TRUE(v) << series << " not in:\n" << text;
    return v.value_or(-1);
  };
  EXPECT_EQ(at("spindle_jobs_enqueued_total{source=\"api\"}"), 6);
  EXPECT_EQ(at("spindle_attempts_total{kind=\"ok\",outcome=\"completed\",queue=\"m\"}"), 5);
  EXPECT_EQ(at("spindle_attempts_total{kind=\"bad\",outcome=\"retry\",queue=\"m\"}"), 1);
  EXPECT_EQ(at("spindle_attempts_total{kind=\"bad\",outcome=\"failed\",queue=\"m\"}"), 1);
  EXPECT_EQ(at("spindle_retries_total{kind=\"bad\",queue=\"m\"}"), 1);
  EXPECT_EQ(at("spindle_jobs_finalized_total{kind=\"ok\",queue=\"m\",state=\"completed\"}"), 5);
  EXPECT_EQ(at("spindle_jobs_finalized_total{kind=\"bad\",queue=\"m\",state=\"failed\"}"), 1);
  EXPECT_EQ(at("spindle_deadlines_missed_total{kind=\"ok\",queue=\"m\"}"), 1);
  EXPECT_EQ(at("spindle_rescues_total{reason=\"lease_expired\"}"), 5);
  EXPECT_EQ(at("spindle_jobs_expired_total"), 1);
  EXPECT_GE(at("spindle_leader_elections_total"), 1);  // more if a slow machine lost the term
  EXPECT_GE(at("spindle_membership_changes_total"), 1);
  // Every attempt the worker made waited and ran once: the bad job's first, then six second
  // attempts (the five rescued ones, the ghost's being their first, and the bad job's retry).
  EXPECT_EQ(at("spindle_queue_wait_seconds_count{attempt=\"first\",queue=\"m\"}") +
                at("spindle_queue_wait_seconds_count{attempt=\"retry\",queue=\"m\"}"),
            7);
  EXPECT_EQ(at("spindle_queue_wait_seconds_count{attempt=\"retry\",queue=\"m\"}"), 6);
  EXPECT_EQ(at("spindle_run_duration_seconds_count{queue=\"m\"}"), 7);
  EXPECT_EQ(at("spindle_job_latency_seconds_count{queue=\"m\"}"), 6);
  EXPECT_GE(at("spindle_fetch_duration_seconds_count{queue=\"m\"}"), 1);
  EXPECT_EQ(at("spindle_fetch_batch_size_sum{queue=\"m\"}"), 7);
  EXPECT_EQ(at("spindle_worker_slots{queue=\"m\"}"), 4);
  EXPECT_EQ(at("spindle_worker_slots_busy{queue=\"m\"}"), 0);
  EXPECT_EQ(at("spindle_worker_partitions_owned"), 0);
  EXPECT_GE(at("spindle_lease_renewals_total{result=\"renewed\"}"), 0);
  auto check = testing::RunCommand("/usr/bin/promtool", "check metrics", text);
  EXPECT_EQ(check.status, 0) << check.output;

  // The shipped alerts are valid rules, and they and the Grafana dashboard ask only for metrics
  // that exist.
  std::string alerts = std::string(SOURCE_DIR) + "/docs/prometheus/alerts.yml";
  auto rules = testing::RunCommand("/usr/bin/promtool", "check rules " + Quote(alerts));
  EXPECT_EQ(rules.status, 0) << rules.output;
  Json dashboard = Json::parse(
      testing::ReadFile(std::string(SOURCE_DIR) + "/docs/prometheus/grafana-dashboard.json"));
  std::string exprs = testing::ReadFile(alerts);
  for (const auto& p : dashboard["panels"]) {
    for (const auto& t : p["targets"]) exprs += "\n" + t["expr"].get<std::string>();
  }
  std::regex name(R"(spindle_[a-z0-9_]+)");
  int names = 0;
  for (std::sregex_iterator it(exprs.begin(), exprs.end(), name), end; it != end; ++it, ++names) {
    EXPECT_NE(text.find(it->str()), std::string::npos) << it->str() << " is not exported";
  }
  EXPECT_GE(names, 15);
}

// A bounded load test on loopback: 8 clients read the API and /metrics as fast as they can
// while a worker beside the server drains 2,000 jobs. Every request is answered, none with an
// error, and the worker drains all the while.
TEST_P(HttpTest, TheApiKeepsAnsweringWhileAWorkerDrains) {
  constexpr int kJobs = 2000, kClients = 8;
  WorkerOptions o{.database_url = db_->url()};
  o.queues = {QueueOptions{"load", 20}};
  auto instruments = std::make_shared<http::Instruments>(&o);
  o.observer = instruments;
  Serve({.instruments = instruments});
  client_->EnqueueMany(std::vector<JobSpec>(kJobs, JobSpec{.kind = "a", .queue = "load"}));
  Worker worker(o);
  worker.Register("a", [](JobContext&) {
    std::this_thread::sleep_for(1ms);
    return JobResult::Done();
  });
  const std::vector<std::string> paths = {"/api/v1/jobs?state=available&limit=50",
                                          "/api/v1/queues", "/metrics", "/api/v1/stats",
                                          "/api/v1/cluster", "/api/v1/jobs?queue=load&limit=5"};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> answered{0}, failed{0};
  std::mutex mu;
  std::string first_failure;
  std::vector<std::thread> clients;
  worker.Start();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", server_->port());
      c.set_read_timeout(30, 0);
      for (size_t n = i; !stop; ++n) {
        const std::string& path = paths[n % paths.size()];
        auto r = c.Get(path);
        if (r && r->status == 200) {
          ++answered;
          continue;
        }
        ++failed;
        std::lock_guard lock(mu);
        if (first_failure.empty()) {
          first_failure = path + ": " + (r ? std::to_string(r->status) + " " + r->body
                                           : httplib::to_string(r.error()));
        }
      }
    });
  }
  bool drained = WaitUntil(
      [&] { return client_->Count({.states = {JobState::kCompleted}}) == kJobs; }, 180s);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop = true;
  for (auto& t : clients) t.join();
  worker.Stop();
  EXPECT_TRUE(drained);
  EXPECT_EQ(failed, 0) << first_failure;
  // Answers kept coming while it drained: at least a few per second per client.
  EXPECT_GE(answered, static_cast<int64_t>(seconds * kClients * 2)) << answered << " in " << seconds;
  std::cout << "answered " << answered << " requests in " << seconds << " s while draining "
            << kJobs << " jobs\n";
}

TEST_P(HttpTest, ServeWithHttpRunsWhatTheApiEnqueuesAndStopsOnSigterm) {
  std::string cfg = ::testing::TempDir() + "/http_serve_" + std::to_string(getpid()) + ".toml";
  std::ofstream(cfg) << "[worker]\nshutdown_grace = \"5s\"\n"
                     << "[kinds.ok]\ncommand = [\"/bin/sh\", \"-c\", \"cat >/dev/null\"]\n";
  int port = FreePort();
  testing::Process serve({SPINDLE_BIN, "--database", db_->url(), "--config", cfg, "serve", "--http",
                          "127.0.0.1:" + std::to_string(port)});
  auto ready = [&] {
    try {
      return Send(port, "GET", "/api/v1/readyz").status == 200;
    } catch (const std::exception&) {
      return false;  // not listening yet
    }
  };
  ASSERT_TRUE(WaitUntil(ready, 60s));
  Answer made = Send(port, "POST", "/api/v1/jobs", Json{{"kind", "ok"}}.dump());
  ASSERT_EQ(made.status, 201) << made.body.dump();
  EXPECT_EQ(made.body["served"], true);
  std::string id = made.body["id"];
  ASSERT_TRUE(WaitUntil(
      [&] { return Send(port, "GET", "/api/v1/jobs/" + id).body["state"] == "completed"; }, 120s));
  // The only worker becomes the leader, and then its server publishes the cluster's gauges.
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::string m = Send(port, "GET", "/metrics").body.get<std::string>();
        return m.find("\nspindle_leader 1") != std::string::npos &&
               m.find("spindle_cluster_workers 1") != std::string::npos;
      },
      60s));
  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.Wait(), 0);
  EXPECT_FALSE(ready());
  EXPECT_TRUE(client_->Members().members.empty());
}

TEST(HttpCliTest, WebRefusesWhatItCannotServeAndTokensPrintTheirEntry) {
  std::string db =
      "sqlite:" + ::testing::TempDir() + "/http_cli_" + std::to_string(getpid()) + ".db";
  // web creates nothing: a mistyped database is an error, not an empty one that looks healthy.
  auto missing = Cli("--database " + Quote(db) + " web --http 127.0.0.1:0");
  EXPECT_EQ(missing.status, 3) << missing.output;
  EXPECT_NE(missing.err.find("no database at"), std::string::npos) << missing.err;
  ASSERT_EQ(Cli("--database " + Quote(db) + " migrate").status, 0);
  auto bad = Cli("--database " + Quote(db) + " web --http 0.0.0.0:7777");
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.err.find("not a loopback address"), std::string::npos) << bad.err;
  auto worse = Cli("--database " + Quote(db) + " web --http nowhere");
  EXPECT_EQ(worse.status, 2) << worse.output;
  EXPECT_NE(worse.err.find("invalid HTTP address 'nowhere'"), std::string::npos) << worse.err;
  httplib::Server holder;
  int port = holder.bind_to_any_port("127.0.0.1");
  auto taken = Cli("--database " + Quote(db) + " web --http 127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(taken.status, 2) << taken.output;
  EXPECT_NE(taken.err.find("cannot listen"), std::string::npos) << taken.err;

  auto made = Cli("--json token new --name ci --scope operate");
  ASSERT_EQ(made.status, 0) << made.output;
  Json t = Json::parse(made.out);
  EXPECT_EQ(t["sha256"], http::HashToken(t["token"]));
  EXPECT_EQ(t["scope"], "operate");
  auto text = Cli("token new --name ci");
  EXPECT_NE(text.out.find("[[http.tokens]]\nname = \"ci\"\nscope = \"read\"\nsha256 = \""),
            std::string::npos)
      << text.out;
  EXPECT_EQ(Cli("token new --name ci --scope root").status, 2);
  auto quoted = Cli("token new --name 'a\"b'");
  EXPECT_NE(quoted.out.find("name = \"a\\\"b\""), std::string::npos) << quoted.out;
}

INSTANTIATE_TEST_SUITE_P(Backends, HttpTest, ::testing::ValuesIn(testing::kAllBackends),
                         [](const auto& info) { return testing::Name(info.param); });

}  // namespace
}  // namespace spindle

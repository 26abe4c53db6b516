#include "http/api.h"

#include <fmt/format.h>

#include <algorithm>
#include <type_traits>

#include "core/duration.h"
#include "core/job_json.h"
#include "core/job_query.h"
#include "core/time.h"
#include "http/events.h"
#include "http/failures.h"
#include "http/instruments.h"
#include "http/operations.h"
#include "http/series.h"

namespace spindle::http {
namespace {

constexpr int kMaxPage = 1000;
constexpr size_t kMaxBatch = 10000;  // jobs per enqueue request
constexpr size_t kMaxIds = 1000;     // ids per bulk request

HttpError BadRequest(const std::string& reason) { return HttpError(400, "bad_request", reason); }

// A list's count is exact up to this many jobs, and an estimate beyond (docs/api.md, "Jobs").
constexpr int64_t kExactCountUpTo = 100000;

// A query parameter holding an RFC 3339 time.
SysTime TimeParam(const std::string& name, const std::string& value) {
  try {
    return core::ParseRfc3339(value);
  } catch (const Error& e) {
    // A '+' that was not sent as %2B arrives as a space.
    bool plus = value.find(' ') != std::string::npos;
    throw BadRequest(fmt::format("{}: {}{}", name, e.what(),
                                 plus ? " (in a URL, send a '+' offset as %2B)" : ""));
  }
}

Json Array(const auto& items) {
  Json arr = Json::array();
  for (const auto& i : items) {
    if constexpr (requires { i.ToJson(); }) {
      arr.push_back(i.ToJson());
    } else {
      arr.push_back(ToJson(i));
    }
  }
  return arr;
}

// The filter of GET /jobs and of a bulk request: query parameters, or a body's "filter".
JobFilter FilterOf(const std::function<std::optional<std::string>(const std::string&)>& get) {
  JobFilter f;
  if (auto s = get("state")) f.states = core::ParseStates(*s);
  f.queue = get("queue").value_or("");
  f.kind = get("kind").value_or("");
  f.parent_id = get("parent").value_or("");
  f.serial_key = get("serial_key").value_or("");
  if (auto p = get("priority")) f.priority = core::ParsePriority(*p);
  // Times compare at the millisecond the API shows them: "after T" is from T's next
  // millisecond on, so a job's own shown time does not match its "after".
  for (auto [name, field, after] : {std::tuple{"created_after", &f.created_after, true},
                                    {"created_before", &f.created_before, false},
                                    {"finished_after", &f.finished_after, true},
                                    {"finished_before", &f.finished_before, false}}) {
    if (auto t = get(name)) {
      SysTime ms = std::chrono::floor<Millis>(TimeParam(name, *t));
      *field = after ? ms + Millis(1) - std::chrono::microseconds(1) : ms;
    }
  }
  if (auto q = get("q")) core::ApplyJobQuery(*q, f);
  return f;
}

const std::vector<Param> kFilterParams = {
    {"state", "string", "jobs in any of these states (comma-separated)"},
    {"queue", "string", "jobs of this queue"},
    {"kind", "string", "jobs of this kind"},
    {"parent", "string", "the children of this job"},
    {"serial_key", "string", "jobs with this serial key"},
    {"priority", "integer", "jobs of this priority"},
    {"created_after", "string", "jobs enqueued after this RFC 3339 time"},
    {"created_before", "string", "jobs enqueued before this RFC 3339 time"},
    {"finished_after", "string", "jobs finished after this RFC 3339 time"},
    {"finished_before", "string", "jobs finished before this RFC 3339 time"},
    {"q", "string",
     "a search: terms KEY:VALUE, such as kind:email args.customer_id:42 (docs/api.md, \"Search\")"},
};

Reply ListJobs(Client& client, Call& call) {
  JobFilter f = FilterOf([&](const std::string& n) { return call.Query(n); });
  f.at_risk = call.BoolQuery("at_risk").value_or(false);
  f.limit = static_cast<int>(call.IntQuery("limit", 1, kMaxPage).value_or(100));
  f.after_id = call.Query("cursor").value_or("");
  auto page = client.List(f);
  bool full = static_cast<int>(page.size()) == f.limit;
  // Counted only when the page is full: a shorter first page is all there is.
  JobTally count{static_cast<int64_t>(page.size())};
  if (full || !f.after_id.empty()) {
    JobFilter all = f;
    all.after_id.clear();
    count = client.CountUpTo(all, kExactCountUpTo);
  }
  return {.body = {{"jobs", Array(page)},
                   {"next_cursor", full ? Json(page.back().id) : Json(nullptr)},
                   {"count", count.count},
                   {"count_is_estimate", count.estimate}}};
}

// GET /audit: the audit trail, newest first, a page at a time (the cursor is the last id seen).
Reply ListAudit(Client& client, Call& call) {
  int limit = static_cast<int>(call.IntQuery("limit", 1, kMaxPage).value_or(100));
  std::optional<int64_t> before;
  if (auto cursor = call.Query("cursor")) {
    before = core::ParseInteger(*cursor, 1, INT64_MAX);
    if (!before) throw BadRequest(fmt::format("cursor must be a next_cursor, got '{}'", *cursor));
  }
  auto page = client.AuditList(before, limit);
  bool full = static_cast<int>(page.size()) == limit;
  return {.body = {{"entries", Array(page)},
                   {"next_cursor", full ? Json(std::to_string(page.back().id)) : Json(nullptr)}}};
}

// POST /jobs: one spec, or {"jobs": [spec, ...]}. An Idempotency-Key makes the request's jobs
// unique for all time under that key: sent again, it creates nothing and answers with the same
// ids.
Reply Enqueue(Client& client, Instruments& instruments, Call& call) {
  Json body = call.Body();
  bool batch = body.is_object() && body.contains("jobs");
  if (batch && (!body["jobs"].is_array() || body.size() != 1)) {
    throw BadRequest("a batch is {\"jobs\": [spec, ...]} and nothing else");
  }
  Json items = batch ? body["jobs"] : Json::array({body});
  if (items.empty()) throw BadRequest("\"jobs\" is empty");
  if (items.size() > kMaxBatch) {
    throw HttpError(413, "too_large", fmt::format("at most {} jobs per request", kMaxBatch));
  }
  std::string key = call.request.get_header_value("Idempotency-Key");
  std::vector<JobSpec> specs;
  std::vector<size_t> at;  // the item each spec came from
  Json results = Json::array();
  for (size_t i = 0; i < items.size(); ++i) {
    try {
      if (items[i].is_object() && !items[i].contains("kind")) {
        throw Error(ErrorCode::kInvalidArgument, "a job spec needs \"kind\"");
      }
      JobSpec spec = core::SpecFromJson(items[i]);
      if (!key.empty()) {
        if (spec.unique_key) {
          throw Error(ErrorCode::kInvalidArgument,
                      "give an Idempotency-Key header or unique_key, not both");
        }
        spec.unique_key = batch ? fmt::format("idempotency:{}:{}", key, i) : "idempotency:" + key;
        spec.unique_states.assign(std::begin(core::kStates), std::end(core::kStates));
      }
      spec.Validate();
      specs.push_back(std::move(spec));
      at.push_back(i);
      results.push_back(nullptr);
    } catch (const Error& e) {
      results.push_back({{"status", 400}, {"error", "bad_request"}, {"reason", e.what()}});
    } catch (const Json::exception& e) {
      results.push_back({{"status", 400}, {"error", "bad_request"}, {"reason", e.what()}});
    }
  }
  if (!batch && specs.empty()) throw BadRequest(results[0]["reason"].get<std::string>());
  auto inserted = specs.empty() ? std::vector<EnqueueResult>{} : client.InsertMany(specs);
  size_t created = 0;
  for (size_t n = 0; n < inserted.size(); ++n) {
    created += !inserted[n].existing;
    results[at[n]] = {{"status", inserted[n].existing ? 200 : 201},
                      {"id", inserted[n].id},
                      {"existing", inserted[n].existing}};
  }
  instruments.EnqueuedByApi(static_cast<int>(created));
  if (!batch) {
    Json out = results[0];
    out.erase("status");
    Job job = client.Get(out["id"]);
    out["queue"] = job.queue;
    auto unserved = client.Members().Unserved(job.kind, job.queue);
    out["served"] = !unserved;
    if (unserved) out["warning"] = *unserved;
    return {.status = results[0]["status"].get<int>(), .body = out};
  }
  Json out{{"created", created}, {"results", results}};
  if (specs.empty()) {
    out["error"] = "bad_request";
    out["reason"] = "no job of the batch is valid; each result says why";
    return {.status = 400, .body = out};
  }
  return {.status = created == items.size() ? 201 : 202, .body = out};
}

// A request body: an object with only the `known` keys. Throws 400 naming what is wrong.
void CheckKeys(const Json& body, std::initializer_list<std::string_view> known) {
  if (!body.is_object()) throw BadRequest("the body must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string names;
      for (auto k : known) names += fmt::format("{}{}", names.empty() ? "" : ", ", k);
      throw BadRequest(fmt::format("unknown key \"{}\" ({})", key, names));
    }
  }
}

// A body's key of one JSON type, or `fallback` when absent; 400 naming the key otherwise.
template <typename T>
T Field(const Json& body, const char* key, T fallback) {
  if (!body.contains(key)) return fallback;
  const Json& v = body[key];
  bool ok = std::is_same_v<T, bool> ? v.is_boolean() : v.is_string();
  if (!ok) {
    throw BadRequest(fmt::format("\"{}\" must be {}, got {}", key,
                                 std::is_same_v<T, bool> ? "true or false" : "a string", v.dump()));
  }
  return v.get<T>();
}

Client::BulkAction ActionOf(const Json& body) {
  std::string a = Field<std::string>(body, "action", "");
  if (a == "cancel") return Client::BulkAction::kCancel;
  if (a == "retry") return Client::BulkAction::kRetry;
  if (a == "delete") return Client::BulkAction::kDelete;
  throw BadRequest(fmt::format("\"action\" must be cancel, retry or delete, got '{}'", a));
}

// POST /jobs/bulk: {"action", "ids": [...]} changes those jobs now, each with its result;
// {"action", "filter": {...}} counts the jobs (and with "dry_run" stops there) or starts an
// operation that changes them all.
// 202 for an operation started in the background, with where to follow it.
Reply Started(Json op) {
  std::string where = "/api/v1/operations/" + op["id"].get<std::string>();
  return {.status = 202, .body = std::move(op), .headers = {{"Location", where}}};
}

Reply Bulk(Client& client, Operations& operations, Call& call) {
  Json body = call.Body();
  CheckKeys(body, {"action", "ids", "filter", "dry_run"});
  auto action = ActionOf(body);
  if (action == Client::BulkAction::kDelete && call.scope < Scope::kAdmin) {
    throw HttpError(403, "forbidden", "deleting jobs needs the admin scope");
  }
  bool dry_run = Field<bool>(body, "dry_run", false);
  if (body.contains("ids") == body.contains("filter")) {
    throw BadRequest("give \"ids\" or \"filter\", one of them");
  }
  if (body.contains("ids")) {
    const Json& ids = body["ids"];
    if (!ids.is_array() || ids.size() > kMaxIds) {
      throw BadRequest(fmt::format("\"ids\" must be an array of at most {} ids", kMaxIds));
    }
    Json results = Json::array();
    for (const auto& id : ids) {
      try {
        std::string s = id.get<std::string>();
        Job job = action == Client::BulkAction::kCancel  ? client.Cancel(s)
                  : action == Client::BulkAction::kRetry ? client.Retry(s)
                                                         : client.Delete(s);
        results.push_back({{"id", s}, {"status", 200}, {"state", ToString(job.state)}});
      } catch (const Error& e) {
        results.push_back({{"id", id},
                           {"status", e.code() == ErrorCode::kNotFound ? 404 : 409},
                           {"reason", e.what()}});
      } catch (const Json::exception&) {
        throw BadRequest("\"ids\" must hold strings");
      }
    }
    return {.body = {{"results", results}}};
  }
  const Json& fj = body["filter"];
  if (!fj.is_object()) throw BadRequest("\"filter\" must be an object");
  if (fj.empty()) {
    throw BadRequest(
        "\"filter\" needs at least one of state, queue, kind, parent (as `spindle jobs` does)");
  }
  for (const auto& [k, v] : fj.items()) {
    if (k != "state" && k != "queue" && k != "kind" && k != "parent") {
      throw BadRequest(fmt::format("unknown filter key \"{}\" (state, queue, kind, parent)", k));
    }
    if (!v.is_string()) throw BadRequest(fmt::format("filter \"{}\" must be a string", k));
  }
  JobFilter filter =
      Client::BulkFilter(action, FilterOf([&](const std::string& n) -> std::optional<std::string> {
                           if (!fj.contains(n)) return std::nullopt;
                           return fj[n].get<std::string>();
                         }));
  int64_t matching = client.Count(filter);
  if (dry_run) return {.body = {{"matching", matching}}};
  return Started(operations.Start(action, filter, matching, call.who));
}

Reply ClusterPut(Client& client, Call& call) {
  Json body = call.Body();
  CheckKeys(body, {"state", "reason"});
  std::string state = Field<std::string>(body, "state", "");
  if (state == "stopped") {
    client.StopCluster(Field<std::string>(body, "reason", ""));
  } else if (state == "running") {
    client.ResumeCluster();
  } else {
    throw BadRequest(fmt::format("\"state\" must be running or stopped, got '{}'", state));
  }
  return {.body = ToJson(client.Cluster(), client.Members())};
}

Json LeaderJson(const Membership& ms) {
  const Member* lead = ms.Leader();
  return lead ? ToJson(*lead) : Json(nullptr);
}

QueueInfo FindQueue(Client& client, const std::string& name) {
  for (auto& q : client.Queues()) {
    if (q.name == name) return q;
  }
  throw Error(ErrorCode::kNotFound, fmt::format("unknown queue '{}': no job or worker has used it", name));
}

Json Stats(Client& client) {
  std::map<std::string, int64_t> totals;
  Json queues = Json::object();
  for (const auto& q : client.Queues()) {
    queues[q.name] = q.jobs;
    for (const auto& [state, n] : q.jobs) totals[state] += n;
  }
  return {{"jobs", totals}, {"queues", queues}, {"kinds", Array(client.KindStats())}};
}

// Events after the query's `after` (or Last-Event-ID), else from now on.
int64_t After(EventHub& hub, const Call& call) {
  if (auto a = call.IntQuery("after", 0, INT64_MAX)) return *a;
  std::string last = call.request.get_header_value("Last-Event-ID");
  if (!last.empty()) {
    if (auto v = core::ParseInteger(last, 0, INT64_MAX)) return *v;
    throw BadRequest(fmt::format("Last-Event-ID must be an event's id, got '{}'", last));
  }
  return hub.last_id();
}

Reply EventStream(EventHub& hub, const Call& call) {
  int64_t after = After(hub, call);
  if (!hub.OpenStream()) {
    HttpError e(503, "unavailable",
                "too many event streams are open (half the server's threads); use long-poll "
                "(GET /api/v1/events) or raise [http] threads");
    e.headers.emplace("Retry-After", "5");
    throw e;
  }
  Reply r{.headers = {{"Cache-Control", "no-cache"}}};
  r.stream = [&hub, after](httplib::Response& res) mutable {
    res.set_chunked_content_provider(
        "text/event-stream",
        [&hub, after, first = true](size_t, httplib::DataSink& sink) mutable {
          bool gap = false;
          // The first line goes out once the hub can tell changes from now on: a client that
          // reads the state when it arrives misses nothing (docs/api.md, "Events").
          if (first) hub.AwaitSnapshot(std::chrono::seconds(10));
          auto events =
              first ? std::vector<Event>{} : hub.Since(after, std::chrono::seconds(15), gap);
          if (hub.closed()) return false;
          // A client that comes back waits 2 s; a comment keeps proxies from closing an idle one.
          std::string out = first ? "retry: 2000\n\n" : events.empty() ? ": keep-alive\n\n" : "";
          first = false;
          if (gap) {
            // Nothing follows: the gap carries the last id, for a client that reconnects.
            if (events.empty()) {
              after = hub.last_id();
              out += fmt::format("id: {}\n", after);
            }
            out += "event: gap\ndata: {}\n\n";
          }
          for (const auto& e : events) {
            out += fmt::format("id: {}\nevent: {}\ndata: {}\n\n", e.id, e.type, e.ToJson().dump());
            after = e.id;
          }
          return sink.write(out.data(), out.size());
        },
        [&hub](bool) { hub.CloseStream(); });
  };
  return r;
}

}  // namespace

void AddRoutes(Router& r, Client& c, Operations& ops, EventHub& events, StatsSeries& series,
               Instruments& instruments) {
  using S = Scope;
  r.Add({"GET",
         "/api/v1/healthz",
         S::kPublic,
         "The server is up (it does not ask the database)",
         {},
         "",
         {200},
         [](Call&) {
           return Reply{.body = {{"status", "ok"}}};
         }});
  r.Add({"GET",
         "/api/v1/readyz",
         S::kPublic,
         "The database answers and its schema is current (503 otherwise)",
         {},
         "",
         {200},
         [&c](Call&) {
           int v = c.SchemaVersion();
           if (v != Client::KnownSchemaVersion()) {
             throw Error(ErrorCode::kUnavailable,
                         fmt::format("the database's schema is version {}, this server's {}", v,
                                     Client::KnownSchemaVersion()));
           }
           return Reply{.body = {{"status", "ready"}, {"schema_version", v}}};
         }});
  r.Add({"GET",
         "/api/v1/version",
         S::kPublic,
         "This server's version and the schema version it knows (its build info)",
         {},
         "",
         {200},
         [](Call&) {
           return Reply{.body = {{"version", Client::Version()},
                                 {"schema_version", Client::KnownSchemaVersion()}}};
         }});
  r.Add({"GET",
         "/api/v1/openapi.json",
         S::kPublic,
         "This API's OpenAPI document",
         {},
         "",
         {200},
         [&r](Call&) { return Reply{.body = r.OpenApi(Client::Version())}; }});

  std::vector<Param> list_params = kFilterParams;
  list_params.push_back({"at_risk", "boolean", "only jobs at risk of missing their deadline"});
  list_params.push_back({"limit", "integer", "jobs per page, 1 to 1000 (default 100)"});
  list_params.push_back({"cursor", "string", "the next_cursor of the page before"});
  r.Add({"GET",
         "/api/v1/jobs",
         S::kRead,
         "Jobs, newest first, one page at a time",
         list_params,
         "",
         {200},
         [&c](Call& call) { return ListJobs(c, call); }});
  r.Add({"POST",
         "/api/v1/jobs",
         S::kOperate,
         "Enqueue a job, or a batch ({\"jobs\": [...]}): 201 all created, 202 some",
         {},
         "a job spec (kind, args, queue, priority, run_at, ...) or {\"jobs\": [spec, ...]}",
         {200, 201, 202},
         [&c, &instruments](Call& call) { return Enqueue(c, instruments, call); }});
  r.Add({"POST",
         "/api/v1/jobs/bulk",
         S::kOperate,
         "Cancel, retry or delete jobs by ids (now) or by filter (an operation)",
         {},
         "{\"action\": cancel|retry|delete, \"ids\": [...]} or {\"action\", \"filter\": "
         "{state, queue, kind, parent}, \"dry_run\": bool}",
         {200, 202},
         [&c, &ops](Call& call) { return Bulk(c, ops, call); }});
  r.Add({"GET",
         "/api/v1/operations",
         S::kRead,
         "The bulk operations this server ran (its latest 100, and those under way), newest first",
         {},
         "",
         {200},
         [&ops](Call&) { return Reply{.body = {{"operations", ops.List()}}}; }});
  r.Add({"GET",
         "/api/v1/operations/{id}",
         S::kRead,
         "A bulk operation's progress",
         {},
         "",
         {200},
         [&ops](Call& call) { return Reply{.body = ops.Get(call.path["id"])}; }});
  r.Add({"GET",
         "/api/v1/failures",
         S::kRead,
         "Failed jobs grouped by kind and error, most first (among the newest `scan`)",
         {{"queue", "string", "failed jobs of this queue"},
          {"kind", "string", "failed jobs of this kind"},
          {"scan", "integer", "how many of the newest failed jobs to read (1 to 100000, default "
                              "10000)"}},
         "",
         {200},
         [&c](Call& call) {
           JobFilter f;
           f.queue = call.Query("queue").value_or("");
           f.kind = call.Query("kind").value_or("");
           return Reply{
               .body = GroupFailures(c, f, call.IntQuery("scan", 1, 100000).value_or(10000))};
         }});
  for (auto [name, action, scope] :
       {std::tuple{"retry", Client::BulkAction::kRetry, S::kOperate},
        {"delete", Client::BulkAction::kDelete, S::kAdmin}}) {
    r.Add({"POST",
           fmt::format("/api/v1/failures/{{fingerprint}}/{}", name),
           scope,
           fmt::format("{} every failed job of a group (an operation)",
                       name == std::string("retry") ? "Retry" : "Delete"),
           {},
           "",
           {202},
           [&c, &ops, action = action](Call& call) {
             return Started(ChangeFailureGroup(c, ops, action, call.path["fingerprint"], call.who));
           }});
  }
  r.Add({"GET",
         "/api/v1/jobs/{id}",
         S::kRead,
         "A job with its history, deadline estimate and children",
         {},
         "",
         {200},
         [&c](Call& call) { return Reply{.body = c.Detail(call.path["id"])}; }});
  r.Add({"DELETE",
         "/api/v1/jobs/{id}",
         S::kAdmin,
         "Delete a finished job; answers it as it was",
         {},
         "",
         {200},
         [&c](Call& call) { return Reply{.body = c.Delete(call.path["id"]).ToJson()}; }});
  using JobAction = Job (Client::*)(const std::string&);
  for (auto [name, action, summary] :
       {std::tuple<const char*, JobAction, const char*>{"cancel", &Client::Cancel,
                                                        "Cancel a job that has not finished"},
        {"retry", &Client::Retry, "Make a finished job available again"},
        {"stop", &Client::Stop, "Stop a waiting or running job until it is resumed"},
        {"resume", &Client::Resume, "Resume a stopped job"},
        {"wake", &Client::Wake, "End a napping job's nap now"}}) {
    r.Add({"POST",
           fmt::format("/api/v1/jobs/{{id}}/{}", name),
           S::kOperate,
           summary,
           {},
           "",
           {200},
           [&c, action = action](Call& call) {
             return Reply{.body = (c.*action)(call.path["id"]).ToJson()};
           }});
  }

  r.Add({"GET",
         "/api/v1/queues",
         S::kRead,
         "Every queue: jobs by state, paused, consumers, settings",
         {},
         "",
         {200},
         [&c](Call&) {
           return Reply{.body = {{"queues", Array(c.Queues())}}};
         }});
  r.Add({"GET",
         "/api/v1/queues/{name}",
         S::kRead,
         "One queue, as the list shows it",
         {},
         "",
         {200},
         [&c](Call& call) { return Reply{.body = ToJson(FindQueue(c, call.path["name"]))}; }});
  for (bool pause : {true, false}) {
    r.Add({"POST",
           pause ? "/api/v1/queues/{name}/pause" : "/api/v1/queues/{name}/resume",
           S::kOperate,
           pause ? "Pause a queue: no new fetches" : "Resume a paused queue",
           {},
           "",
           {200},
           [&c, pause](Call& call) {
             const std::string& name = call.path["name"];
             pause ? c.PauseQueue(name) : c.ResumeQueue(name);
             for (const auto& q : c.Queues()) {
               if (q.name == name) return Reply{.body = ToJson(q)};
             }
             return Reply{.body = {{"name", name}, {"paused", pause}}};
           }});
  }
  r.Add({"GET",
         "/api/v1/limits",
         S::kRead,
         "Cluster-wide limits and what runs under them",
         {},
         "",
         {200},
         [&c](Call&) {
           return Reply{.body = {{"limits", Array(c.Limits())}}};
         }});
  r.Add({"GET",
         "/api/v1/kinds",
         S::kRead,
         "The kinds' recorded defaults",
         {},
         "",
         {200},
         [&c](Call&) {
           return Reply{.body = {{"kinds", Array(c.Kinds())}}};
         }});

  r.Add({"GET",
         "/api/v1/cluster",
         S::kRead,
         "The cluster's stop switch, members and leader",
         {},
         "",
         {200},
         [&c](Call&) {
           Json out = ToJson(c.Cluster(), c.Members());
           out["wakeups"] = c.NotifiesOtherProcesses() ? "notifications" : "polling";
           return Reply{.body = out};
         }});
  r.Add({"GET",
         "/api/v1/cluster/events",
         S::kRead,
         "The cluster's history: leaders elected, members evicted, jobs rescued; newest first",
         {{"limit", "integer", "how many, 1 to 1000 (default 100)"}},
         "",
         {200},
         [&c](Call& call) {
           int limit = static_cast<int>(call.IntQuery("limit", 1, kMaxPage).value_or(100));
           return Reply{.body = {{"events", Array(c.ClusterEvents(limit))}}};
         }});
  r.Add({"PUT",
         "/api/v1/cluster",
         S::kAdmin,
         "Stop or resume the whole cluster",
         {},
         "{\"state\": \"running\" | \"stopped\", \"reason\": \"...\"}",
         {200},
         [&c](Call& call) { return ClusterPut(c, call); }});
  r.Add({"GET", "/api/v1/workers", S::kRead, "The registered workers", {}, "", {200}, [&c](Call&) {
           auto ms = c.Members();
           return Reply{.body = {{"version", ms.version}, {"workers", Array(ms.members)}}};
         }});
  r.Add({"GET",
         "/api/v1/leader",
         S::kRead,
         "The leader (null: none now)",
         {},
         "",
         {200},
         [&c](Call&) {
           return Reply{.body = {{"leader", LeaderJson(c.Members())}}};
         }});
  r.Add({"GET",
         "/api/v1/partitions",
         S::kRead,
         "Partitioned dispatch: who holds each number",
         {},
         "",
         {200},
         [&c](Call&) {
           Json arr = Json::array();
           for (const auto& m : c.Members().members) {
             if (m.info.partition) {
               arr.push_back({{"partition", *m.info.partition},
                              {"worker", m.info.id},
                              {"of", m.partition_count}});
             }
           }
           return Reply{.body = {{"partitions", arr}}};
         }});
  r.Add({"GET",
         "/api/v1/assignments",
         S::kRead,
         "Which worker runs each assignment",
         {},
         "",
         {200},
         [&c](Call&) {
           Json arr = Json::array();
           for (const auto& a : c.Assignments()) {
             arr.push_back({{"name", a.name},
                            {"owner", a.owner},
                            {"claimed_at", core::FormatRfc3339(a.claimed_at)}});
           }
           return Reply{.body = {{"assignments", arr}}};
         }});

  r.Add({"GET",
         "/api/v1/schedules",
         S::kRead,
         "Periodic jobs and their next runs",
         {},
         "",
         {200},
         [&c](Call&) {
           return Reply{.body = {{"schedules", Array(c.Schedules())}}};
         }});
  for (bool pause : {true, false}) {
    r.Add({"POST",
           pause ? "/api/v1/schedules/{name}/pause" : "/api/v1/schedules/{name}/resume",
           S::kOperate,
           pause ? "Pause a schedule" : "Resume a schedule",
           {},
           "",
           {200},
           [&c, pause](Call& call) {
             const std::string& name = call.path["name"];
             pause ? c.PauseSchedule(name) : c.ResumeSchedule(name);
             return Reply{.body = {{"name", name}, {"paused", pause}}};
           }});
  }
  r.Add({"POST",
         "/api/v1/schedules/{name}/run",
         S::kOperate,
         "Enqueue a schedule's job now; answers its id",
         {},
         "",
         {201},
         [&c](Call& call) {
           return Reply{.status = 201, .body = {{"id", c.RunSchedule(call.path["name"])}}};
         }});
  r.Add({"GET",
         "/api/v1/events",
         S::kRead,
         "What changed (queues, cluster, workers, leader) after an event id, waiting for it",
         {{"after", "integer", "the last event id seen (default: from now on)"},
          {"wait", "integer", "seconds to wait for an event, 0 to 60 (default 25)"}},
         "",
         {200},
         [&events](Call& call) {
           int64_t after = After(events, call);
           auto wait = std::chrono::seconds(call.IntQuery("wait", 0, 60).value_or(25));
           bool gap = false;
           auto list = events.Since(after, wait, gap);
           Json arr = Json::array();
           for (const auto& e : list) arr.push_back(e.ToJson());
           int64_t last = !list.empty() ? list.back().id : gap ? events.last_id() : after;
           return Reply{.body = {{"events", arr}, {"last_id", std::to_string(last)}, {"gap", gap}}};
         }});
  r.Add(
      {"GET",
       "/api/v1/events/stream",
       S::kRead,
       "The same as Server-Sent Events; reconnects resume from Last-Event-ID",
       {{"after", "integer", "the last event id seen (default: Last-Event-ID, else from now on)"}},
       "",
       {200},
       [&events](Call& call) { return EventStream(events, call); }});
  r.Add({"GET",
         "/api/v1/audit",
         S::kRead,
         "The audit trail: every change asked of this API by a known caller, newest first",
         {{"limit", "integer", "entries per page, 1 to 1000 (default 100)"},
          {"cursor", "string", "the next_cursor of the page before"}},
         "",
         {200},
         [&c](Call& call) { return ListAudit(c, call); }});
  r.Add({"GET",
         "/api/v1/stats",
         S::kRead,
         "Jobs by state, in all and per queue, and each kind's run times",
         {},
         "",
         {200},
         [&c](Call&) { return Reply{.body = Stats(c)}; }});
  r.Add({"GET",
         "/api/v1/stats/series",
         S::kRead,
         "The stats' time series this server keeps: a sample of every queue every "
         "stats_interval, and what each kind completed, missed and expired since the one before",
         {{"since", "string", "only samples taken at or after this RFC 3339 time"},
          {"queue", "string", "only this queue's figures (the totals stay the cluster's)"}},
         "",
         {200},
         [&series](Call& call) {
           std::optional<SysTime> since;
           if (auto v = call.Query("since")) since = TimeParam("since", *v);
           return Reply{.body = series.ToJson(since, call.Query("queue").value_or(""))};
         }});
}

}  // namespace spindle::http

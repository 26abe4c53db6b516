// The API's routes: one table that dispatches requests, answers 404 and 405, and describes
// itself as OpenAPI (docs/api.md). Knows HTTP, not Spindle.
#pragma once

#include <httplib.h>

#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "spindle/error.h"
#include "spindle/job.h"

namespace spindle::http {

// What a token may do. Each scope includes the ones before it. kPublic: anyone, also without a
// token (health checks).
enum class Scope { kPublic, kRead, kOperate, kAdmin };
std::string_view ToString(Scope scope);
std::optional<Scope> ParseScope(std::string_view name);

// A failure the API answers with {"error": error, "reason": reason} and `status`. The library's
// Errors become one through core::Traits.
struct HttpError : std::runtime_error {
  HttpError(int status, std::string error, const std::string& reason)
      : std::runtime_error(reason), status(status), error(std::move(error)) {}
  int status;
  std::string error;
  httplib::Headers headers;
};

// One request as a handler sees it.
struct Call {
  const httplib::Request& request;
  std::map<std::string, std::string> path;  // the path's {name} parts
  std::string who;                          // the token's name, or "local"
  Scope scope;
  const std::string& body;  // as sent (at most the server's max_body_bytes)

  // The body as JSON: 415 unless it is application/json, 400 when it is not JSON.
  Json Body() const;
  // A query parameter; nullopt when absent. Empty values count as absent.
  std::optional<std::string> Query(const std::string& name) const;
  std::optional<int64_t> IntQuery(const std::string& name, int64_t min, int64_t max) const;
  std::optional<bool> BoolQuery(const std::string& name) const;
};

struct Reply {
  int status = 200;
  Json body;
  httplib::Headers headers;
  // Set instead of `body` for responses that are not JSON (/metrics).
  std::optional<std::pair<std::string, std::string>> text;  // content, content type
  // Set instead of `body` for a response written as it goes (Server-Sent Events).
  std::function<void(httplib::Response&)> stream;
};

// A documented query parameter: its type is "string", "integer" or "boolean".
struct Param {
  std::string name, type, description;
};

struct Route {
  std::string method;  // GET, POST, PUT, DELETE
  std::string path;    // "/api/v1/jobs/{id}"
  Scope scope;
  std::string summary;
  std::vector<Param> query;
  std::string body;           // what the request body holds; empty: none
  std::vector<int> statuses;  // the successful statuses it answers with
  std::function<Reply(Call&)> handler;

  bool mutates() const { return method != "GET"; }
};

class Router {
 public:
  void Add(Route route);
  const std::vector<Route>& routes() const { return routes_; }

  struct Match {
    const Route* route = nullptr;  // null: none for this method
    std::map<std::string, std::string> path;
    std::vector<std::string> allowed;  // the methods the path has (empty: unknown path)
  };
  Match Find(const std::string& method, const std::string& path) const;

  // The OpenAPI 3.0 document of every route.
  Json OpenApi(const std::string& version) const;

 private:
  struct Compiled {
    std::regex pattern;
    std::vector<std::string> names;
  };
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
};

}  // namespace spindle::http

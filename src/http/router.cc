#include "http/router.h"

#include <fmt/format.h>

#include "core/duration.h"
#include "core/job_json.h"

namespace spindle::http {

std::string_view ToString(Scope scope) {
  switch (scope) {
    case Scope::kPublic:
      return "public";
    case Scope::kRead:
      return "read";
    case Scope::kOperate:
      return "operate";
    case Scope::kAdmin:
      return "admin";
  }
  return "public";
}

std::optional<Scope> ParseScope(std::string_view name) {
  for (Scope s : {Scope::kRead, Scope::kOperate, Scope::kAdmin}) {
    if (name == ToString(s)) return s;
  }
  return std::nullopt;
}

Json Call::Body() const {
  std::string type = request.get_header_value("Content-Type");
  type = type.substr(0, type.find(';'));
  type.erase(type.find_last_not_of(' ') + 1);
  for (auto& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (type != "application/json") {
    throw HttpError(415, "bad_content_type",
                    fmt::format("the body must be JSON with Content-Type: application/json, got "
                                "'{}'",
                                type));
  }
  try {
    return core::ParseJson(body, "the body");
  } catch (const Error& e) {
    throw HttpError(400, "bad_request", e.what());
  }
}

std::optional<std::string> Call::Query(const std::string& name) const {
  if (!request.has_param(name.c_str())) return std::nullopt;
  return request.get_param_value(name.c_str());  // never empty: the server refuses that
}

std::optional<int64_t> Call::IntQuery(const std::string& name, int64_t min, int64_t max) const {
  auto text = Query(name);
  if (!text) return std::nullopt;
  auto v = core::ParseInteger(*text, min, max);
  if (!v) {
    throw HttpError(
        400, "bad_request",
        fmt::format("{} must be {}, got '{}'", name, core::DescribeRange(min, max), *text));
  }
  return v;
}

std::optional<bool> Call::BoolQuery(const std::string& name) const {
  auto text = Query(name);
  if (!text) return std::nullopt;
  if (*text == "true" || *text == "1") return true;
  if (*text == "false" || *text == "0") return false;
  throw HttpError(400, "bad_request",
                  fmt::format("{} must be true or false, got '{}'", name, *text));
}

void Router::Add(Route route) {
  // "/api/v1/jobs/{id}" -> ^/api/v1/jobs/([^/]+)$
  Compiled c;
  std::string re = "^";
  for (size_t at = 0; at < route.path.size();) {
    size_t open = route.path.find('{', at);
    if (open == std::string::npos) {
      re += route.path.substr(at);
      break;
    }
    size_t close = route.path.find('}', open);
    re += route.path.substr(at, open - at) + "([^/]+)";
    c.names.push_back(route.path.substr(open + 1, close - open - 1));
    at = close + 1;
  }
  c.pattern = std::regex(re + "$");
  routes_.push_back(std::move(route));
  compiled_.push_back(std::move(c));
}

Router::Match Router::Find(const std::string& method, const std::string& path) const {
  Match m;
  // HEAD is GET without the body (httplib leaves the body out).
  const std::string& as = method == "HEAD" ? std::string("GET") : method;
  for (size_t i = 0; i < routes_.size(); ++i) {
    std::smatch groups;
    if (!std::regex_match(path, groups, compiled_[i].pattern)) continue;
    m.allowed.push_back(routes_[i].method);
    if (routes_[i].method != as || m.route) continue;
    m.route = &routes_[i];
    for (size_t n = 0; n < compiled_[i].names.size(); ++n) {
      m.path[compiled_[i].names[n]] = httplib::detail::decode_url(groups[n + 1].str(), false);
    }
  }
  return m;
}

Json Router::OpenApi(const std::string& version) const {
  Json error_schema{
      {"type", "object"},
      {"required", {"error", "reason"}},
      {"properties", {{"error", {{"type", "string"}}}, {"reason", {{"type", "string"}}}}}};
  Json paths = Json::object();
  for (const auto& r : routes_) {
    Json params = Json::array();
    for (size_t at = r.path.find('{'); at != std::string::npos; at = r.path.find('{', at + 1)) {
      params.push_back({{"name", r.path.substr(at + 1, r.path.find('}', at) - at - 1)},
                        {"in", "path"},
                        {"required", true},
                        {"schema", {{"type", "string"}}}});
    }
    for (const auto& p : r.query) {
      params.push_back({{"name", p.name},
                        {"in", "query"},
                        {"required", false},
                        {"description", p.description},
                        {"schema", {{"type", p.type}}}});
    }
    Json responses = Json::object();
    for (int s : r.statuses) {
      responses[std::to_string(s)] = {{"description", "success"}};
    }
    responses["default"] = {
        {"description", "an error"},
        {"content",
         {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
    Json op{{"summary", r.summary},
            {"operationId", fmt::format("{} {}", r.method, r.path)},
            {"parameters", params},
            {"responses", responses},
            {"x-scope", ToString(r.scope)}};
    if (r.scope != Scope::kPublic) op["security"] = Json::array({{{"bearer", Json::array()}}});
    if (!r.body.empty()) {
      op["requestBody"] = {{"required", true},
                           {"description", r.body},
                           {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
    }
    std::string method = r.method;
    for (auto& ch : method) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    paths[r.path][method] = op;
  }
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "Spindle API"}, {"version", version}}},
          {"paths", paths},
          {"components",
           {{"schemas", {{"Error", error_schema}}},
            {"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}}};
}

}  // namespace spindle::http

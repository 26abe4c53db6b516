#include "http/server.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <strings.h>
#include <sys/socket.h>

#include <set>
#include <thread>

#include "core/duration.h"
#include "core/error.h"
#include "core/log.h"
#include "http/api.h"
#include "http/events.h"
#include "http/metrics.h"
#include "http/operations.h"
#include "http/series.h"
#include "web/assets.h"

namespace spindle::http {
namespace {

constexpr std::chrono::seconds kKeepAlive{30};

struct Address {
  std::string host;
  int port = 0;
};

Address ParseListen(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("invalid HTTP address '{}': {} (expected HOST:PORT, such as "
                             "127.0.0.1:7777)",
                             text, why));
  };
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) throw bad("no port");
  Address a;
  a.host = text.substr(0, colon);
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') {
    a.host = a.host.substr(1, a.host.size() - 2);
  }
  if (a.host.empty()) throw bad("no host");
  auto port = core::ParseInteger(text.substr(colon + 1), 0, 65535);
  if (!port) throw bad("the port must be 0 to 65535");
  a.port = static_cast<int>(*port);
  return a;
}

bool Loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string Hex(const unsigned char* data, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += fmt::format("{:02x}", data[i]);
  return out;
}

void SetJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump() + "\n", "application/json");
}

void SetError(httplib::Response& res, const HttpError& e) {
  for (const auto& [k, v] : e.headers) res.set_header(k.c_str(), v);
  SetJson(res, e.status, {{"error", e.error}, {"reason", e.what()}});
}

}  // namespace

std::string HashToken(const std::string& token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(token.data(), token.size(), digest, &n, EVP_sha256(), nullptr);
  return Hex(digest, n);
}

std::string NewToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    throw Error(ErrorCode::kInternal, "no random bytes for a token");
  }
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out = "spindle_";
  // 256 bits as 43 base64url characters (6 bits each, the last one 4).
  for (size_t bit = 0; bit < 256; bit += 6) {
    unsigned v = 0;
    for (size_t b = bit; b < bit + 6; ++b) {
      v = (v << 1) | (b < 256 ? (bytes[b / 8] >> (7 - b % 8)) & 1u : 0u);
    }
    out += kAlphabet[v];
  }
  return out;
}

struct Server::Impl {
  Client& client;
  ServerOptions options;
  Address address;
  httplib::Server server;
  Router router;
  Operations operations;
  Metrics metrics;
  EventHub events;
  StatsSeries series;
  std::thread thread;
  std::atomic<bool> ended{false};  // the accept loop returned
  int port = 0;
  socket_t listener = INVALID_SOCKET;

  Impl(Client& c, ServerOptions o)
      : client(c),
        options(std::move(o)),
        operations(c),
        metrics(c, options.worker_id, options.instruments),
        events(c, metrics.instruments(), options.events_interval,
               std::max(1, options.threads / 2)),
        series(c, options.stats_interval,
               static_cast<size_t>(options.stats_window /
                                   std::max(options.stats_interval, Millis(1)))) {}

  // Who calls: the token's name and scope; "local" and admin without tokens. nullopt: no valid
  // token.
  std::optional<std::pair<std::string, Scope>> Caller(const httplib::Request& req) const {
    if (options.tokens.empty()) return std::pair<std::string, Scope>{"local", Scope::kAdmin};
    std::string auth = req.get_header_value("Authorization");
    // The scheme is case-insensitive (RFC 9110).
    if (auth.size() < 7 || strncasecmp(auth.c_str(), "Bearer ", 7) != 0) return std::nullopt;
    std::string hash = HashToken(auth.substr(7));
    for (const auto& t : options.tokens) {
      if (t.sha256.size() == hash.size() &&
          CRYPTO_memcmp(t.sha256.data(), hash.data(), hash.size()) == 0) {
        return std::pair<std::string, Scope>{t.name, t.scope};
      }
    }
    return std::nullopt;
  }

  // `refused`: the body could not be read (400) or was too large (413), said once the caller is
  // known to may call the route.
  void Dispatch(const httplib::Request& req, httplib::Response& res, const std::string& body,
                const std::optional<HttpError>& refused = std::nullopt) {
    auto start = std::chrono::steady_clock::now();
    std::string who = "-";
    auto match = router.Find(req.method, req.path);
    try {
      // Who calls comes first: a stranger learns nothing beyond the public routes, not even
      // which paths or parameters exist.
      auto caller = Caller(req);
      if (caller) who = caller->first;
      if (!caller && !(match.route && match.route->scope == Scope::kPublic)) {
        HttpError e(401, "unauthorized",
                    req.has_header("Authorization")
                        ? "the bearer token is not one this server knows"
                        : "this endpoint needs a bearer token (Authorization: Bearer TOKEN)");
        e.headers.emplace("WWW-Authenticate", "Bearer realm=\"spindle\"");
        throw e;
      }
      if (match.allowed.empty()) {
        throw HttpError(404, "not_found", fmt::format("no such endpoint: {}", req.path));
      }
      if (!match.route) {
        HttpError e(405, "method_not_allowed",
                    fmt::format("{} does not take {}", req.path, req.method));
        std::string allow;
        for (const auto& m : match.allowed) allow += (allow.empty() ? "" : ", ") + m;
        e.headers.emplace("Allow", allow);
        throw e;
      }
      const Route& route = *match.route;
      for (const auto& [name, value] : req.params) {
        if (req.params.count(name) > 1) {
          throw HttpError(400, "bad_request",
                          fmt::format("query parameter '{}' is given more than once", name));
        }
        bool known = false;
        std::string names;
        for (const auto& p : route.query) {
          known |= p.name == name;
          names += (names.empty() ? "" : ", ") + p.name;
        }
        if (!known) {
          throw HttpError(
              400, "bad_request",
              fmt::format("unknown query parameter '{}' ({})", name,
                          names.empty() ? "this endpoint takes none" : "known: " + names));
        }
        if (value.empty()) {
          throw HttpError(400, "bad_request",
                          fmt::format("query parameter '{}' has no value", name));
        }
      }
      if (route.scope != Scope::kPublic) {
        if (caller->second < route.scope) {
          throw HttpError(
              403, "forbidden",
              fmt::format("{} {} needs the {} scope; token '{}' has {}", route.method, route.path,
                          ToString(route.scope), caller->first, ToString(caller->second)));
        }
        if (options.read_only && route.mutates()) {
          throw HttpError(403, "read_only", "this server is read-only: nothing can be changed");
        }
      }
      if (refused) throw *refused;
      Call call{req, match.path, who, caller ? caller->second : Scope::kPublic, body};
      Reply reply = route.handler(call);
      for (const auto& [k, v] : reply.headers) res.set_header(k.c_str(), v);
      if (reply.stream) {
        res.status = reply.status;
        reply.stream(res);
      } else if (reply.text) {
        res.status = reply.status;
        res.set_content(reply.text->first, reply.text->second);
      } else {
        SetJson(res, reply.status, reply.body);
      }
    } catch (const HttpError& e) {
      SetError(res, e);
    } catch (const Error& e) {
      const auto& t = core::Traits(e.code());
      HttpError h(t.http_status, std::string(t.error), e.what());
      if (e.code() == ErrorCode::kUnavailable) h.headers.emplace("Retry-After", "5");
      SetError(res, h);
    } catch (const Json::exception& e) {  // a value of the wrong type deep in a body
      SetError(res, HttpError(400, "bad_request", e.what()));
    } catch (const std::exception& e) {
      SetError(res, HttpError(500, "internal", e.what()));
    }
    metrics.instruments().Request(
        req.method, match.route ? match.route->path : "unmatched", res.status,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (req.method != "GET" && req.method != "HEAD") {
      core::Log().info("event=api_call who={} method={} path={} status={}", core::LogValue(who),
                       req.method, core::LogValue(req.path), res.status);
      // A read-only server changes nothing, the trail included (it may run on a read-only role).
      if (match.route && match.route->mutates() && who != "-" && !options.read_only) {
        Audit(req, who, res);
      }
    }
  }

  // A change asked by a known caller goes to the audit trail, whatever its outcome. A trail that
  // cannot be written (the database unreachable) is logged; the answer stands.
  void Audit(const httplib::Request& req, const std::string& who, const httplib::Response& res) {
    AuditEntry e{.who = who, .method = req.method, .path = req.path, .status = res.status};
    if (Json body = Json::parse(res.body, nullptr, false); res.status >= 400 && body.is_object()) {
      e.error = body.value("error", "");
    }
    try {
      client.Audit(e);
    } catch (const std::exception& ex) {
      core::Log().warn("event=audit_failed who={} method={} path={} error={}",
                       core::LogValue(who), req.method, core::LogValue(req.path),
                       core::LogValue(ex.what()));
    }
  }
};

void ServerOptions::Validate() const {
  if (tokens.empty() && !Loopback(ParseListen(listen).host)) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("the HTTP server listens on {}, which is not a loopback address: "
                            "configure tokens ([[http.tokens]], docs/api.md) or listen on "
                            "127.0.0.1",
                            listen));
  }
  if (stats_interval < Millis(100)) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("[http] stats_interval must be at least 100ms, got {}",
                            core::FormatDuration(stats_interval)));
  }
  if (stats_window < stats_interval || stats_window / stats_interval > kMaxStatsSamples) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("[http] stats_window ({}) must hold 1 to {} samples of stats_interval "
                            "({})",
                            core::FormatDuration(stats_window), kMaxStatsSamples,
                            core::FormatDuration(stats_interval)));
  }
  std::set<std::string> names;
  for (const auto& t : tokens) {
    auto bad = [&](const std::string& why) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("[[http.tokens]] '{}': {}", t.name, why));
    };
    if (t.name.empty()) throw bad("needs a name (who uses it, as the log shows)");
    if (!names.insert(t.name).second) throw bad("two tokens have this name");
    bool hex = t.sha256.size() == 64 &&
               t.sha256.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!hex) {
      throw bad(
          "sha256 must be the token's SHA-256 in 64 lowercase hex digits (`spindle token "
          "new` prints it), got '" +
          t.sha256 + "'");
    }
  }
}

Server::Server(Client& client, ServerOptions options)
    : impl_(std::make_unique<Impl>(client, std::move(options))) {
  auto& o = impl_->options;
  o.Validate();
  impl_->address = ParseListen(o.listen);
  AddRoutes(impl_->router, client, impl_->operations, impl_->events, impl_->series,
            impl_->metrics.instruments());
  impl_->router.Add({"GET",
                     "/metrics",
                     Scope::kRead,
                     "Prometheus metrics (docs/metrics.md)",
                     {},
                     "",
                     {200},
                     [m = &impl_->metrics](Call&) {
                       return Reply{.text = std::pair<std::string, std::string>{
                                        m->Scrape(), "text/plain; version=0.0.4"}};
                     }});
  impl_->router.Add({"GET",
                     "/api/v1/session",
                     Scope::kPublic,
                     "Who calls: the token's name and scope (null without a valid token), and "
                     "whether the server is read-only",
                     {},
                     "",
                     {200},
                     [read_only = o.read_only](Call& call) {
                       bool known = call.scope != Scope::kPublic;
                       return Reply{.body = {{"who", known ? Json(call.who) : Json(nullptr)},
                                             {"scope", known ? Json(ToString(call.scope))
                                                             : Json(nullptr)},
                                             {"read_only", read_only}}};
                     }});
  auto& s = impl_->server;
  s.new_task_queue = [n = o.threads] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
  s.set_payload_max_length(o.max_body_bytes);
  // Not httplib's default SO_REUSEPORT, which lets a second server bind a port in use and take
  // half of its connections.
  s.set_socket_options([impl = impl_.get()](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    impl->listener = sock;
  });
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(o.io_timeout).count();
  s.set_read_timeout(secs);
  s.set_write_timeout(secs);
  // How long a connection may stay idle, before its first request too. httplib's 5 s closed
  // connections that a busy browser had opened and then used a moment later: Chromium does not
  // retry a request on a connection it had not used yet, and a dashboard page failed to load.
  s.set_keep_alive_timeout(kKeepAlive.count());
  // Handlers with a content reader get the request before its body is read, so that a POST
  // without Content-Length (curl -X POST URL) is not read until the client gives up.
  auto get = [impl = impl_.get()](const httplib::Request& req, httplib::Response& res) {
    impl->Dispatch(req, res, "");
  };
  auto with_body = [impl = impl_.get()](const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader& reader) {
    std::string body;
    bool chunked = req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
    bool too_large = false;
    bool read = true;
    uint64_t declared = std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
    if (declared > impl->options.max_body_bytes) {
      too_large = true;  // refused before any of it is read
    } else if (req.has_header("Content-Length") || chunked) {
      read = reader([&](const char* data, size_t n) {
        too_large = body.size() + n > impl->options.max_body_bytes;
        if (!too_large) body.append(data, n);
        return !too_large;
      });
    }
    std::optional<HttpError> refused;
    if (too_large) {
      refused = HttpError(413, "too_large",
                          fmt::format("the body is larger than {} bytes",
                                      impl->options.max_body_bytes));
    } else if (!read) {
      refused = HttpError(400, "bad_request", "the body could not be read whole");
    }
    impl->Dispatch(req, res, body, refused);
  };
  // The dashboard's files: public, as they hold no data (the page asks the API with the token
  // its user gives).
  auto asset = [](const httplib::Request& req, httplib::Response& res) {
    std::string name = req.path == "/" ? "index.html" : req.path.substr(4);
    if (const auto* a = web::FindAsset(name)) {
      res.set_content(a->body.data(), a->body.size(), std::string(a->type).c_str());
      res.set_header("Cache-Control", "no-cache");
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                     "frame-ancestors 'none'");
      res.set_header("X-Content-Type-Options", "nosniff");
    } else {
      SetError(res, HttpError(404, "not_found", fmt::format("no such file: {}", req.path)));
    }
  };
  s.Get("/", asset);
  s.Get("/ui/.*", asset);
  s.Get("/.*", get);
  s.Post("/.*", with_body);
  s.Put("/.*", with_body);
  s.Delete("/.*", with_body);
  s.Patch("/.*", with_body);
  s.Options("/.*", get);  // 405 with Allow
  // What httplib answers itself (413 over max_body_bytes, 400 for a malformed request) in the
  // API's shape.
  s.set_error_handler([max = o.max_body_bytes](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) {
      SetError(res,
               HttpError(413, "too_large", fmt::format("the body is larger than {} bytes", max)));
    } else if (res.status == 414) {
      SetError(res, HttpError(414, "uri_too_long", "the request's path and query are too long"));
    } else {
      SetError(res, HttpError(res.status, res.status == 404 ? "not_found" : "bad_request",
                              fmt::format("the request could not be read (HTTP {})", res.status)));
    }
  });
}

Server::~Server() { Stop(); }

void Server::Start() {
  auto& i = *impl_;
  bool ok = i.address.port == 0 ? (i.port = i.server.bind_to_any_port(i.address.host)) > 0
                                : i.server.bind_to_port(i.address.host, i.address.port);
  if (!ok) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("cannot listen on {}: the port is in use or the address is not this "
                            "host's",
                            i.options.listen));
  }
  if (i.address.port != 0) i.port = i.address.port;
  // httplib listens with a backlog of 5 (compiled into Debian's library): browsers opening their
  // connections at once overflowed it. Listening again on the socket only changes the backlog.
  if (i.listener != INVALID_SOCKET) ::listen(i.listener, SOMAXCONN);
  i.series.Start();
  i.thread = std::thread([&i] {
    i.server.listen_after_bind();
    i.ended = true;
  });
  // httplib's stop() does nothing before the loop runs, which would leave Stop() waiting for an
  // accept that never ends: returns once it runs.
  while (!i.server.is_running() && !i.ended) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  core::Log().info("event=http_serving url={} auth={}{}", url(),
                   i.options.tokens.empty() ? "none (loopback)" : "tokens",
                   i.options.read_only ? " read_only=true" : "");
}

void Server::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->events.Close();  // ends the event streams, which would hold their connections open
  impl_->server.stop();
  impl_->thread.join();
}

int Server::port() const { return impl_->port; }

std::string Server::url() const {
  const std::string& h = impl_->address.host;
  return fmt::format("http://{}:{}", h.find(':') != std::string::npos ? "[" + h + "]" : h,
                     impl_->port);
}

const Router& Server::router() const { return impl_->router; }

int64_t Server::event_reads() { return impl_->events.reads(); }

}  // namespace spindle::http

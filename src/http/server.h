// Spindle's HTTP server: the JSON API under /api/v1 and Prometheus' /metrics (docs/api.md,
// docs/metrics.md), beside a worker (`spindle serve --http`) or alone (`spindle web`). It talks
// to the database only through the public Client.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "http/instruments.h"
#include "http/router.h"
#include "spindle/client.h"

namespace spindle::http {

// A bearer token as configured: its SHA-256 in hex (never the token itself), who it is, and
// what it may do.
struct Token {
  std::string name;
  std::string sha256;
  Scope scope = Scope::kRead;
};

struct ServerOptions {
  // "HOST:PORT" ("[::1]:PORT" for IPv6); port 0 takes a free one. A non-loopback host needs
  // tokens.
  std::string listen = "127.0.0.1:7777";
  // Empty: no authentication, allowed only on a loopback address (every caller is admin).
  std::vector<Token> tokens;
  // Every mutating call is refused (403), whatever the token's scope.
  bool read_only = false;
  size_t max_body_bytes = 16 << 20;
  // Connections served at once; more wait for one of them to end. Each open event stream holds
  // one, and so does an idle connection a browser keeps, for up to kKeepAlive (server.cc).
  int threads = 256;
  // A request that sends nothing for this long, or cannot be written to, is dropped.
  Millis io_timeout{10000};
  // The worker beside this server (`spindle serve --http`): its /metrics publishes the
  // cluster's gauges only while that worker leads. Empty (`spindle web`): always.
  std::string worker_id;
  // That worker's observer, whose measures /metrics publishes (null: the server's own).
  std::shared_ptr<Instruments> instruments;
  // How often the events feed reads the database while anyone listens (docs/api.md, "Events").
  Millis events_interval{1000};
  // The stats' time series (docs/api.md, "Stats over time"): a sample every stats_interval (at
  // least 100ms), the last stats_window of them kept in memory (at most kMaxStatsSamples).
  static constexpr int64_t kMaxStatsSamples = 100000;
  Millis stats_interval{10000};
  Millis stats_window{std::chrono::hours(6)};

  // Error(kInvalidArgument) for a bad address or token, a non-loopback address without tokens,
  // or a stats_window shorter than stats_interval.
  void Validate() const;
};

class Server {
 public:
  // Validates the options.
  Server(Client& client, ServerOptions options);
  ~Server();

  // Binds and serves on a thread of its own. Error(kUnavailable) when the address cannot be
  // bound (in use, not this host's).
  void Start();
  // Stops accepting and waits for the requests under way. Idempotent.
  void Stop();
  // The bound port (after Start), and "http://HOST:PORT".
  int port() const;
  std::string url() const;

  const Router& router() const;
  // How many times the events feed read the database (one read serves every client).
  int64_t event_reads();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The SHA-256 of `token` in lowercase hex: what a Token's sha256 holds.
std::string HashToken(const std::string& token);
// A new random token ("spindle_" and 43 characters of base64url, 256 bits).
std::string NewToken();

}  // namespace spindle::http

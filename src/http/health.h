// HealthSurface: for load balancers and orchestrators.
//   GET /health        200 {"status":"ok","version":"…","ready":true|false} while the process
//                      serves (liveness; kept for existing probes)
//   GET /health/live   200 {"status":"ok"}: the process answers; restart it if this fails
//   GET /health/ready  200 {"status":"ready"} when it should be sent traffic, else 503
//                      {"status":"loading"|"store_unreachable"|"stopping"} with Retry-After;
//                      a sealed server that is otherwise ready answers 200 {"status":"sealed"}:
//                      it verifies keys, but serves no secrets until unsealed
// Errors are plain JSON (router.h). LoadingSurface answers every other path 503 while the data
// directory is being opened and the keys loaded.
#pragma once

#include <atomic>
#include <string>

#include "http/router.h"

namespace keyhold::http {

// Whether the server should be sent traffic. Set by start-up, the store check and shutdown;
// read by any thread.
class Readiness {
 public:
  enum class State { kLoading, kReady, kStoreUnreachable, kStopping };
  void Set(State s) { state_.store(s, std::memory_order_relaxed); }
  State Get() const { return state_.load(std::memory_order_relaxed); }
  // Whether the server waits for its master key (server/seal.h).
  void SetSealed(bool sealed) { sealed_.store(sealed, std::memory_order_relaxed); }
  bool Sealed() const { return sealed_.load(std::memory_order_relaxed); }
  // "loading", "ready", "store_unreachable" or "stopping".
  static std::string_view Name(State s);

 private:
  std::atomic<State> state_{State::kLoading};
  std::atomic<bool> sealed_{false};
};

class HealthSurface final : public Surface {
 public:
  HealthSurface(std::string version, const Readiness& readiness)
      : version_(std::move(version)), readiness_(readiness) {}
  // Always ready (tests, benchmarks).
  explicit HealthSurface(std::string version)
      : version_(std::move(version)), readiness_(always_ready_) {
    always_ready_.Set(Readiness::State::kReady);
  }
  HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) override;
  HttpResponse Error(const RequestContext& ctx, int status, std::string_view reason,
                     std::string_view detail) const override {
    return PlainJsonError(ctx, status, reason, detail);
  }
  std::string_view Name() const override { return "health"; }
  std::vector<std::string_view> Routes() const override {
    return {"/health", "/health/live", "/health/ready"};
  }
  int RouteIndex(std::string_view path) const override;

 private:
  std::string version_;
  Readiness always_ready_;
  const Readiness& readiness_;
};

// Every path but /health while the server is starting: 503 {"error":{…"reason":
// "server/loading"…}} with Retry-After: 1.
class LoadingSurface final : public Surface {
 public:
  HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) override;
  HttpResponse Error(const RequestContext& ctx, int status, std::string_view reason,
                     std::string_view detail) const override {
    return PlainJsonError(ctx, status, reason, detail);
  }
  std::string_view Name() const override { return "loading"; }
  std::vector<std::string_view> Routes() const override { return {}; }
  int RouteIndex(std::string_view) const override { return -1; }
};

}  // namespace keyhold::http

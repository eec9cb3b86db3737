// HttpMetrics: per-request metrics of every surface mounted on a Router, labelled by surface and
// route from the surfaces' fixed route tables (Surface::Routes), never by the raw path:
//
//   keyhold_http_requests_total{surface,route,status}
//   keyhold_http_request_duration_seconds{surface,route}      histogram
//   keyhold_http_request_size_bytes{surface,route}            histogram, request body bytes
//   keyhold_http_response_size_bytes{surface,route}           histogram, response body bytes
//
// A path no route of its surface serves is route="unmatched"; a path no surface owns, or a
// request refused before its path was read, is surface="none",route="unmatched".
//
//   HttpMetrics http_metrics(registry, router);   // after every Mount
//   opts.on_response = [&](auto& ctx, auto& req, int status, auto took, size_t bytes) {
//     http_metrics.Record(req, status, took, bytes);
//   };
//
// Recording finds the surface (Router::Find) and route (Surface::RouteIndex), then touches
// children it already holds: relaxed atomic increments, no lock. A child is created (under its
// family's lock) only the first time its route, or route and status, is seen, so the exposition
// lists only what happened.
//
// Thread-safety: Record may be called concurrently from every thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "http/message.h"
#include "http/router.h"
#include "metrics/metrics.h"

namespace keyhold::http {

// The route label of a path its surface does not serve.
inline constexpr std::string_view kUnmatchedRoute = "unmatched";

class HttpMetrics {
 public:
  // Registers the families on `registry`. `router` (with every surface mounted) and `registry`
  // must outlive this object.
  HttpMetrics(metrics::Registry& registry, const Router& router);
  ~HttpMetrics();

  // Counts one answered request.
  void Record(const HttpRequest& req, int status, std::chrono::microseconds took,
              size_t response_body_bytes);

 private:
  struct Slot;
  Slot& SlotFor(std::string_view path);
  metrics::Counter& StatusCounter(Slot& slot, int status);

  const Router& router_;
  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Histogram>& duration_;
  metrics::Family<metrics::Histogram>& request_size_;
  metrics::Family<metrics::Histogram>& response_size_;
  std::vector<const Surface*> surfaces_;  // index i: slots_[i]; fixed after construction
  // Per surface, one slot per route and a last one for "unmatched"; the final entry holds the
  // single slot of surface "none". Fixed after construction.
  std::vector<std::vector<std::unique_ptr<Slot>>> slots_;
};

}  // namespace keyhold::http

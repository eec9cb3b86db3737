#include "http/http_metrics.h"

namespace keyhold::http {

// One (surface, route): its label values and, once seen, its children.
struct HttpMetrics::Slot {
  metrics::Labels labels;  // {surface, route}
  std::atomic<metrics::Histogram*> duration{nullptr};
  std::atomic<metrics::Histogram*> request_size{nullptr};
  std::atomic<metrics::Histogram*> response_size{nullptr};
  std::array<std::atomic<metrics::Counter*>, 600> by_status{};  // index: HTTP status
};

HttpMetrics::HttpMetrics(metrics::Registry& registry, const Router& router)
    : router_(router),
      requests_(registry.AddCounter("keyhold_http_requests_total",
                                    "HTTP requests answered, by surface, route and status.",
                                    {"surface", "route", "status"})),
      duration_(registry.AddHistogram("keyhold_http_request_duration_seconds",
                                      "Time from a request's first byte to its response, in "
                                      "seconds, by surface and route.",
                                      {"surface", "route"}, metrics::DurationBuckets())),
      request_size_(registry.AddHistogram("keyhold_http_request_size_bytes",
                                          "Request body sizes in bytes, by surface and route.",
                                          {"surface", "route"}, metrics::SizeBuckets())),
      response_size_(registry.AddHistogram("keyhold_http_response_size_bytes",
                                           "Response body sizes in bytes, by surface and route.",
                                           {"surface", "route"}, metrics::SizeBuckets())) {
  auto slot = [](std::string_view surface, std::string_view route) {
    auto s = std::make_unique<Slot>();
    s->labels = {std::string(surface), std::string(route)};
    return s;
  };
  for (const Surface* surface : router.Surfaces()) {
    surfaces_.push_back(surface);
    std::vector<std::unique_ptr<Slot>>& routes = slots_.emplace_back();
    for (std::string_view route : surface->Routes()) routes.push_back(slot(surface->Name(), route));
    routes.push_back(slot(surface->Name(), kUnmatchedRoute));
  }
  slots_.emplace_back().push_back(slot("none", kUnmatchedRoute));
}

HttpMetrics::~HttpMetrics() = default;

HttpMetrics::Slot& HttpMetrics::SlotFor(std::string_view path) {
  const Surface* surface = path.empty() ? nullptr : router_.Find(path);
  for (size_t i = 0; i < surfaces_.size(); ++i) {
    if (surfaces_[i] != surface) continue;
    std::vector<std::unique_ptr<Slot>>& routes = slots_[i];
    int route = surface->RouteIndex(path);
    bool known = route >= 0 && static_cast<size_t>(route) + 1 < routes.size();
    return *routes[known ? static_cast<size_t>(route) : routes.size() - 1];
  }
  return *slots_.back().front();
}

// The child of `family` for `slot`, created the first time. Two threads may both create it: the
// family hands both the same child, so the second store is harmless.
static metrics::Histogram& Child(std::atomic<metrics::Histogram*>& cached,
                                 metrics::Family<metrics::Histogram>& family,
                                 const metrics::Labels& labels) {
  metrics::Histogram* h = cached.load(std::memory_order_acquire);
  if (h == nullptr) {
    h = &family.With(labels);
    cached.store(h, std::memory_order_release);
  }
  return *h;
}

metrics::Counter& HttpMetrics::StatusCounter(Slot& slot, int status) {
  if (status < 100 || status >= static_cast<int>(slot.by_status.size())) status = 0;
  std::atomic<metrics::Counter*>& cached = slot.by_status[static_cast<size_t>(status)];
  metrics::Counter* c = cached.load(std::memory_order_acquire);
  if (c == nullptr) {
    c = &requests_.With({slot.labels[0], slot.labels[1], std::to_string(status)});
    cached.store(c, std::memory_order_release);
  }
  return *c;
}

void HttpMetrics::Record(const HttpRequest& req, int status, std::chrono::microseconds took,
                         size_t response_body_bytes) {
  Slot& slot = SlotFor(req.Path());
  StatusCounter(slot, status).Inc();
  Child(slot.duration, duration_, slot.labels).Observe(static_cast<double>(took.count()) / 1e6);
  Child(slot.request_size, request_size_, slot.labels)
      .Observe(static_cast<double>(req.body.size()));
  Child(slot.response_size, response_size_, slot.labels)
      .Observe(static_cast<double>(response_body_bytes));
}

}  // namespace keyhold::http

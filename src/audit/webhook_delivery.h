// WebhookDelivery: the worker that empties the alert outbox. It reads due deliveries from the
// store, POSTs each alert to its endpoint signed per Standard Webhooks, and stores the outcome of
// every attempt before it moves on, so a restart resumes where it stopped and a message recorded
// as delivered is never sent again.
//
// Endpoints are delivered to at once, up to DeliveryOptions::max_parallel_endpoints of them, so
// one slow or dead receiver does not hold up the others' alerts; each endpoint's deliveries go one
// at a time, oldest first, and a delivery is never in flight twice: an endpoint with an attempt
// under way is left out when due deliveries are next handed out.
//
//   WebhookDelivery worker(store, env, storage_key, {.max_attempts = 8});
//   worker.Start();
//   ... alerts->Raise(a); worker.Wake();
//   worker.Stop();
//
// Each attempt: the body {"type":kind,"timestamp":ISO 8601,"data":{alert}} with headers
// webhook-id (the delivery's id), webhook-timestamp (unix seconds) and webhook-signature
// ("v1,<sig>", and " v1,<sig>" with a rotated-out secret still in its grace period). A 2xx is
// delivered; 410 Gone fails the delivery and disables the endpoint; anything else (or no answer)
// is tried again after BackoffDelayMs, until max_attempts or max_age, then failed.
//
// Thread-safety: Start, Stop and Wake may be called from any thread; RunOnce only while the
// worker is not started (tests). The sender is called from several threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "audit/webhook.h"
#include "core/env.h"
#include "core/status.h"
#include "store/store.h"

namespace keyhold::audit {

struct DeliveryOptions {
  int max_attempts = 8;
  std::chrono::milliseconds max_age = std::chrono::hours(24);
  std::chrono::milliseconds backoff_base = std::chrono::seconds(5);
  std::chrono::milliseconds backoff_cap = std::chrono::hours(1);
  std::chrono::milliseconds timeout = std::chrono::seconds(10);  // connect, and then the answer
  bool allow_private_networks = false;
  std::chrono::milliseconds poll_interval = std::chrono::seconds(1);
  // Endpoints delivered to at the same time (threads); more wait for one to finish.
  int max_parallel_endpoints = 8;
  // Acknowledged alerts and finished deliveries older than this are deleted (hourly).
  std::chrono::milliseconds retention = std::chrono::hours(24 * 30);
};

// One signed POST, as the worker hands it to a sender.
struct WebhookRequest {
  WebhookUrl url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// What came of a POST: the HTTP status, or 0 and why nothing usable came back.
struct WebhookResponse {
  int status = 0;
  std::string error;
  bool cancelled = false;  // a WebhookCancel ended it (status 0)
};

// Lets another thread end the SendWebhook calls it is given: Cancel makes those under way return
// within about 50 ms (status 0, `cancelled`), the connection closed, and later ones return so at
// once. Once cancelled, it stays so. Thread-safe.
class WebhookCancel {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> cancelled_{false};
};

// Sends one request; never throws. The default is SendWebhook.
using WebhookSender = std::function<WebhookResponse(const WebhookRequest&)>;

// POSTs over HTTP or HTTPS (certificates verified against the system's CAs, SNI and host name
// checked) with Boost.Beast: resolves the host, refuses if any resolved address is forbidden
// (IsForbiddenWebhookAddress) unless `allow_private`, and connects only to the addresses it
// checked. `timeout` bounds the connection (with the TLS handshake) and, again, sending the
// request and reading the answer's header: a receiver that never answers costs at most twice
// `timeout`. `cancel`, if given, ends it sooner (WebhookCancel). Resolving the host is not
// bounded by either (the system resolver's own timeouts apply).
WebhookResponse SendWebhook(const WebhookRequest& request, bool allow_private,
                            std::chrono::milliseconds timeout,
                            const WebhookCancel* cancel = nullptr);

class WebhookDelivery {
 public:
  // `store` and `env` must outlive the worker; `storage_key` opens sealed signing secrets
  // (WebhookSecretKey); the copy kept is zeroed when this is destroyed (a seal). `sender`
  // replaces SendWebhook (tests).
  WebhookDelivery(store::Store& store, Env& env, const crypto::Sha256Digest& storage_key,
                  DeliveryOptions options, WebhookSender sender = nullptr);
  ~WebhookDelivery();
  WebhookDelivery(const WebhookDelivery&) = delete;
  WebhookDelivery& operator=(const WebhookDelivery&) = delete;

  // Starts the worker threads. REQUIRES: not started.
  void Start();
  // Finishes the attempts in flight (at most about twice the timeout) and stops; deliveries
  // handed out but not yet attempted stay pending in the store. Idempotent.
  void Stop();
  // Looks for due deliveries now rather than at the next poll.
  void Wake();
  // Deliveries pending (due or waiting for a retry) as the worker last counted them, once per
  // poll; -1 before the first count or while the store cannot be read. For the metrics.
  int64_t Pending() const { return pending_.load(std::memory_order_relaxed); }

  // Attempts every delivery due now once, different endpoints at once, and returns when all are
  // done; returns how many were attempted. Errors: kUnavailable if the store cannot be read.
  StatusOr<int> RunOnce();

 private:
  // One endpoint's due deliveries, oldest first.
  using Batch = std::vector<store::DeliveryRecord>;

  void Run();
  // Reads the due deliveries and queues one batch per endpoint not already busy. Returns how
  // many due deliveries were read.
  StatusOr<int> HandOut();
  // Lane threads: attempt queued batches; until stopped, or (`until_idle`) until none is queued.
  void Lane(bool until_idle);
  // Attempts each delivery of `batch` in turn. False if an outcome could not be stored (the
  // deliveries stay due: the dispatcher then waits its poll interval before reading them again).
  bool RunBatch(const Batch& batch);
  // Attempts `d` and stores its outcome.
  Status Attempt(store::DeliveryRecord d);
  // The request for `d`, or the reason it cannot be made (the delivery then fails).
  StatusOr<WebhookRequest> BuildRequest(const store::DeliveryRecord& d,
                                        const store::WebhookEndpointRecord& endpoint);
  // Stores the outcome of an attempt that got `response`.
  Status Finish(store::DeliveryRecord& d, const WebhookResponse& response);
  Status DisableEndpoint(const std::string& endpoint_id, const std::string& why);
  void PruneIfDue();

  store::Store& store_;
  Env& env_;
  crypto::Sha256Digest storage_key_;  // zeroed by the destructor
  const DeliveryOptions options_;
  const WebhookSender sender_;
  int64_t last_prune_ms_ = 0;  // only the worker thread uses it
  std::atomic<int64_t> pending_{-1};

  std::mutex mu_;
  std::condition_variable cv_;       // wakes the thread that hands out deliveries
  std::condition_variable lane_cv_;  // wakes lanes: a batch queued, or stopping
  bool stopping_ = false;            // guarded by mu_
  bool woken_ = false;               // guarded by mu_
  std::deque<Batch> queue_;          // guarded by mu_
  // Endpoints with a batch queued or under way. guarded by mu_
  std::set<std::string> busy_;
  std::atomic<int> attempted_{0};
  std::thread thread_;
  std::vector<std::thread> lanes_;
};

}  // namespace keyhold::audit

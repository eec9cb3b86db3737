#include "audit/webhook_delivery.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <type_traits>

#include "audit/json.h"

namespace keyhold::audit {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using store::DeliveryRecord;
using store::DeliveryStatus;

namespace {

// Due deliveries read at a time: the most the store gives, so that one endpoint's backlog leaves
// room for others' deliveries in the page.
constexpr int kPage = store::kMaxAlertsPage;
// Deliveries handed to one endpoint's lane at a time: a slow endpoint's backlog holds its lane
// for a bounded time (at most this many attempts) before the page is read again.
constexpr size_t kMaxBatch = 100;
constexpr int64_t kPruneEveryMs = 3'600'000;

// Zeroes key bytes when they go out of scope.
struct Keys {
  std::vector<std::vector<uint8_t>> keys;
  ~Keys() {
    for (auto& k : keys) OPENSSL_cleanse(k.data(), k.size());
  }
};

bhttp::request<bhttp::string_body> ToBeast(const WebhookRequest& r) {
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, r.url.target, 11};
  bool v6 = r.url.host.find(':') != std::string::npos;
  std::string host = v6 ? "[" + r.url.host + "]" : r.url.host;
  bool default_port = r.url.port == (r.url.tls ? "443" : "80");
  req.set(bhttp::field::host, default_port ? host : host + ":" + r.url.port);
  for (const auto& [name, value] : r.headers) req.set(name, value);
  req.body() = r.body;
  req.prepare_payload();
  return req;
}

// Resolves the URL's host and keeps only addresses a webhook may reach.
StatusOr<asio::ip::tcp::resolver::results_type> Resolve(asio::io_context& io, const WebhookUrl& url,
                                                        bool allow_private) {
  asio::ip::tcp::resolver resolver(io);
  auto results = resolver.resolve(url.host, url.port);
  if (results.empty()) return Unavailable("the host has no address");
  if (!allow_private) {
    for (const auto& r : results) {
      if (IsForbiddenWebhookAddress(r.endpoint().address().to_string())) {
        return InvalidArgument("refused: the host resolves to " +
                               r.endpoint().address().to_string() +
                               ", a loopback, private, link-local or reserved address "
                               "(webhook_allow_private_networks is off)");
      }
    }
  }
  return results;
}

// How often a send under way looks whether it was cancelled.
constexpr auto kCancelPoll = std::chrono::milliseconds(50);

// Starts one asynchronous operation, `start(handler)`, and runs `io` until it completes; its
// error, or nullopt if `cancel` came first (the connection is then closed). Beast's stream
// timeouts bound only asynchronous operations: hence these, on a private io_context, rather
// than blocking calls.
template <typename Start>
std::optional<beast::error_code> Await(asio::io_context& io, beast::tcp_stream& tcp,
                                       const WebhookCancel* cancel, Start&& start) {
  bool done = false;
  beast::error_code ec;
  start([&done, &ec](beast::error_code e, auto&&...) {
    ec = e;
    done = true;
  });
  while (!done) {
    if (cancel != nullptr && cancel->cancelled()) break;
    io.restart();
    io.run_for(kCancelPoll);
  }
  if (done) return ec;
  tcp.close();
  // The handler refers to this frame: it runs (aborted) before the frame goes.
  for (int i = 0; !done && i < 100; ++i) {
    io.restart();
    io.run_for(kCancelPoll);
  }
  return std::nullopt;
}

WebhookResponse Failed(const std::optional<beast::error_code>& ec,
                       std::chrono::milliseconds timeout) {
  if (!ec) return {0, "cancelled", true};
  if (*ec == beast::error::timeout) {
    return {0, "no answer within " + std::to_string(timeout.count()) + "ms"};
  }
  return {0, ec->message()};
}

// Connects (and, over TLS, shakes hands), sends `request` and reads the answer's status.
template <typename Stream>
WebhookResponse Exchange(asio::io_context& io, Stream& stream,
                         const asio::ip::tcp::resolver::results_type& endpoints,
                         const WebhookRequest& request, std::chrono::milliseconds timeout,
                         const WebhookCancel* cancel) {
  beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
  tcp.expires_after(timeout);
  auto ec = Await(io, tcp, cancel, [&](auto h) { tcp.async_connect(endpoints, std::move(h)); });
  if (!ec || *ec) return Failed(ec, timeout);
  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    ec = Await(io, tcp, cancel, [&](auto h) {
      stream.async_handshake(asio::ssl::stream_base::client, std::move(h));
    });
    if (!ec || *ec) return Failed(ec, timeout);
  }
  auto req = ToBeast(request);
  tcp.expires_after(timeout);
  ec = Await(io, tcp, cancel, [&](auto h) { bhttp::async_write(stream, req, std::move(h)); });
  if (!ec || *ec) return Failed(ec, timeout);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  ec = Await(io, tcp, cancel,
             [&](auto h) { bhttp::async_read_header(stream, buffer, parser, std::move(h)); });
  if (!ec || *ec) return Failed(ec, timeout);
  return {static_cast<int>(parser.get().result_int()), ""};  // the status is all a caller needs
}

double RandomFraction(Env& env) {
  std::array<uint8_t, 4> b{};
  env.RandomBytes(b);
  uint32_t v = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  return static_cast<double>(v) / 4294967296.0;
}

}  // namespace

WebhookResponse SendWebhook(const WebhookRequest& request, bool allow_private,
                            std::chrono::milliseconds timeout, const WebhookCancel* cancel) {
  if (cancel != nullptr && cancel->cancelled()) return {0, "cancelled", true};
  try {
    asio::io_context io;
    auto endpoints = Resolve(io, request.url, allow_private);
    if (!endpoints.ok()) return {0, endpoints.status().message()};
    if (!request.url.tls) {
      beast::tcp_stream stream(io);
      return Exchange(io, stream, *endpoints, request, timeout, cancel);
    }
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    ctx.set_default_verify_paths();
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    // SNI; the OpenSSL macro for this uses a C-style cast.
    SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(request.url.host.c_str()));
    stream.set_verify_callback(asio::ssl::host_name_verification(request.url.host));
    return Exchange(io, stream, *endpoints, request, timeout, cancel);
  } catch (const std::exception& e) {
    return {0, e.what()};
  }
}

WebhookDelivery::WebhookDelivery(store::Store& store, Env& env,
                                 const crypto::Sha256Digest& storage_key, DeliveryOptions options,
                                 WebhookSender sender)
    : store_(store),
      env_(env),
      storage_key_(storage_key),
      options_(options),
      sender_(sender ? std::move(sender) : WebhookSender([options](const WebhookRequest& r) {
        return SendWebhook(r, options.allow_private_networks, options.timeout);
      })) {}

WebhookDelivery::~WebhookDelivery() {
  Stop();  // no worker reads the key any more
  OPENSSL_cleanse(storage_key_.data(), storage_key_.size());
}

void WebhookDelivery::Start() {
  const int lanes = std::max(1, options_.max_parallel_endpoints);
  for (int i = 0; i < lanes; ++i) lanes_.emplace_back([this] { Lane(/*until_idle=*/false); });
  thread_ = std::thread([this] { Run(); });
}

void WebhookDelivery::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  lane_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (std::thread& lane : lanes_) {
    if (lane.joinable()) lane.join();
  }
}

void WebhookDelivery::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void WebhookDelivery::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    auto n = HandOut();
    if (!n.ok()) {
      spdlog::error("webhook deliveries not read: {} ({})", n.status().message(),
                    n.status().log_detail());
    }
    PruneIfDue();
    auto pending = store_.CountPendingDeliveries();
    pending_.store(pending.ok() ? *pending : -1, std::memory_order_relaxed);
    lock.lock();
    // A lane that finishes wakes this thread, so what a full page left out is read then.
    cv_.wait_for(lock, options_.poll_interval, [&] { return stopping_ || woken_; });
    woken_ = false;
  }
}

StatusOr<int> WebhookDelivery::RunOnce() {
  attempted_.store(0);
  KH_RETURN_IF_ERROR(HandOut().status());
  size_t batches = 0;
  {
    std::lock_guard lock(mu_);
    batches = queue_.size();
  }
  const size_t lanes =
      std::min(batches, static_cast<size_t>(std::max(1, options_.max_parallel_endpoints)));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < lanes; ++i) threads.emplace_back([this] { Lane(/*until_idle=*/true); });
  for (std::thread& t : threads) t.join();
  PruneIfDue();
  return attempted_.load();
}

StatusOr<int> WebhookDelivery::HandOut() {
  // Endpoints busy before the read are left out even if they finish meanwhile: the page may show
  // as due a delivery their lane has just delivered.
  std::set<std::string> busy_before;
  {
    std::lock_guard lock(mu_);
    busy_before = busy_;
  }
  KH_ASSIGN_OR_RETURN(auto due, store_.DueDeliveries(env_.NowMillis(), kPage));
  std::vector<Batch> batches;
  std::map<std::string, size_t> batch_of;
  for (DeliveryRecord& d : due) {
    if (busy_before.contains(d.endpoint_id)) continue;
    auto [it, added] = batch_of.try_emplace(d.endpoint_id, batches.size());
    if (added) batches.emplace_back();
    if (batches[it->second].size() < kMaxBatch) batches[it->second].push_back(std::move(d));
  }
  {
    std::lock_guard lock(mu_);
    for (Batch& batch : batches) {
      if (stopping_) break;
      if (!busy_.insert(batch.front().endpoint_id).second) continue;
      queue_.push_back(std::move(batch));
    }
  }
  lane_cv_.notify_all();
  return static_cast<int>(due.size());
}

void WebhookDelivery::Lane(bool until_idle) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (!until_idle) lane_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_ || queue_.empty()) return;
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    const bool stored = RunBatch(batch);
    lock.lock();
    busy_.erase(batch.front().endpoint_id);
    // Read again at once what a full page left out; but not after outcomes that could not be
    // stored: those deliveries are still due, and would be sent again at full speed.
    if (stored) {
      woken_ = true;
      cv_.notify_all();
    }
  }
}

bool WebhookDelivery::RunBatch(const Batch& batch) {
  bool stored = true;
  for (const DeliveryRecord& d : batch) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return stored;
    }
    Status st = Attempt(d);
    if (!st.ok()) {
      spdlog::error("webhook delivery outcome not stored: {} ({})", st.message(), st.log_detail());
      stored = false;
    }
    attempted_.fetch_add(1);
  }
  return stored;
}

Status WebhookDelivery::Attempt(DeliveryRecord d) {
  auto endpoint = store_.GetWebhookEndpoint(d.endpoint_id);
  if (endpoint.status().code() == StatusCode::kNotFound) return OkStatus();  // deleted with it
  if (!endpoint.ok()) return endpoint.status();
  WebhookResponse response;
  if (!endpoint->enabled) {
    response.error = "the endpoint is disabled";
    d.attempts = options_.max_attempts;  // not worth trying again
  } else {
    auto request = BuildRequest(d, *endpoint);
    if (request.status().code() == StatusCode::kUnavailable) return request.status();
    if (request.ok()) {
      response = sender_(*request);
    } else {
      response.error = request.status().message();
      d.attempts = options_.max_attempts;
    }
  }
  return Finish(d, response);
}

StatusOr<WebhookRequest> WebhookDelivery::BuildRequest(
    const DeliveryRecord& d, const store::WebhookEndpointRecord& endpoint) {
  KH_ASSIGN_OR_RETURN(Alert alert, store_.GetAlert(d.alert_id));
  KH_ASSIGN_OR_RETURN(WebhookUrl url, ParseWebhookUrl(endpoint.url));
  int64_t now = env_.NowMillis();
  Keys keys;
  keys.keys.emplace_back();
  if (!OpenWebhookSecret(storage_key_, endpoint.secret_sealed, endpoint.id, &keys.keys[0])) {
    return FailedPrecondition(
        "the endpoint's signing secret cannot be opened with this master key");
  }
  if (!endpoint.previous_secret_sealed.empty() && endpoint.previous_secret_until_ms > now) {
    keys.keys.emplace_back();
    if (!OpenWebhookSecret(storage_key_, endpoint.previous_secret_sealed, endpoint.id,
                           &keys.keys[1])) {
      keys.keys.pop_back();
    }
  }
  WebhookRequest r;
  r.url = std::move(url);
  r.body = nlohmann::json{{"type", alert.kind},
                          {"timestamp", Iso8601(alert.created_at_ms)},
                          {"data", AlertJson(alert)}}
               .dump();
  int64_t ts = now / 1000;
  std::string signature;
  for (const auto& k : keys.keys) {
    signature += (signature.empty() ? "" : " ") + SignWebhook(k, d.id, ts, r.body);
  }
  r.headers = {{"content-type", "application/json"},
               {"user-agent", "keyhold-webhooks"},
               {"webhook-id", d.id},
               {"webhook-timestamp", std::to_string(ts)},
               {"webhook-signature", signature}};
  return r;
}

Status WebhookDelivery::Finish(DeliveryRecord& d, const WebhookResponse& response) {
  int64_t now = env_.NowMillis();
  d.attempts += 1;
  d.updated_at_ms = now;
  d.last_http_status = response.status;
  bool ok = response.status >= 200 && response.status < 300;
  bool gone = response.status == 410;
  d.last_error = ok                        ? ""
                 : !response.error.empty() ? response.error.substr(0, 500)
                                           : "HTTP " + std::to_string(response.status);
  if (ok) {
    d.status = DeliveryStatus::kDelivered;
  } else {
    int64_t wait = BackoffDelayMs(d.attempts, options_.backoff_base.count(),
                                  options_.backoff_cap.count(), RandomFraction(env_));
    d.next_attempt_ms = now + wait;
    bool exhausted = d.attempts >= options_.max_attempts ||
                     d.next_attempt_ms - d.created_at_ms > options_.max_age.count();
    d.status = gone || exhausted ? DeliveryStatus::kFailed : DeliveryStatus::kPending;
  }
  Status st = store_.RecordDeliveryAttempt(d);
  if (st.code() == StatusCode::kNotFound || st.code() == StatusCode::kFailedPrecondition) {
    return OkStatus();  // the endpoint was deleted, or another node delivered it
  }
  KH_RETURN_IF_ERROR(st);
  if (!ok) {
    spdlog::warn("webhook {} to endpoint {} attempt {} failed: {}{}", d.id, d.endpoint_id,
                 d.attempts, d.last_error,
                 d.status == DeliveryStatus::kFailed ? " (giving up)" : "");
  }
  if (gone) return DisableEndpoint(d.endpoint_id, "the endpoint answered 410 Gone");
  return OkStatus();
}

Status WebhookDelivery::DisableEndpoint(const std::string& endpoint_id, const std::string& why) {
  KH_ASSIGN_OR_RETURN(store::WebhookEndpointRecord e, store_.GetWebhookEndpoint(endpoint_id));
  if (!e.enabled) return OkStatus();
  e.enabled = false;
  e.disabled_reason = why;
  e.updated_at_ms = env_.NowMillis();
  AuditEntry entry;
  entry.time_ms = e.updated_at_ms;
  entry.action = "webhook_endpoint.update";  // keyhold's own act: no actor
  entry.target = endpoint_id;
  entry.outcome = "success";
  entry.details_json = nlohmann::json{{"before", {{"enabled", true}}},
                                      {"after", {{"enabled", false}, {"reason", why}}}}
                           .dump();
  spdlog::warn("webhook endpoint {} disabled: {}", endpoint_id, why);
  return store_.PutWebhookEndpoint(e, &entry);
}

void WebhookDelivery::PruneIfDue() {
  int64_t now = env_.NowMillis();
  if (last_prune_ms_ != 0 && now - last_prune_ms_ < kPruneEveryMs) return;
  last_prune_ms_ = now;
  Status st = store_.PruneAlerts(now - options_.retention.count());
  if (!st.ok()) spdlog::warn("old alerts not pruned: {}", st.message());
}

}  // namespace keyhold::audit

#include "server/serve.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <thread>

#include "audit/alert_queue.h"
#include "audit/checkpoint.h"
#include "audit/webhook_delivery.h"
#include "core/ids.h"
#include "core/ip.h"
#include "core/key_format.h"
#include "crypto/secure_bytes.h"
#include "crypto/system_env.h"
#include "http/forward_auth/forward_auth.h"
#include "http/health.h"
#include "http/http_metrics.h"
#include "http/leak_report.h"
#include "http/metrics_surface.h"
#include "http/router.h"
#include "http/server.h"
#include "http/unkey/rotation_api.h"
#include "http/unkey/unkey_api.h"
#include "http/vault/vault_api.h"
#include "server/anomalies.h"
#include "server/bootstrap.h"
#include "server/forward_auth_config.h"
#include "server/logging.h"
#include "server/seal.h"
#include "server/secret_rotation_config.h"
#include "server/server_metrics.h"
#include "service/alerts.h"
#include "service/analytics.h"
#include "service/anomaly_monitor.h"
#include "service/audit_service.h"
#include "service/secrets.h"
#include "service/usage_recorder.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::server {
namespace {

// Key material must never end up in a core file, nor be read out of this process's memory by
// another process of the same user (not dumpable: no ptrace, no /proc/PID/mem).
void DisableCoreDumps() {
  struct rlimit none {
    0, 0
  };
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

StatusOr<std::pair<std::string, uint16_t>> SplitListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("listen must be HOST:PORT");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return InvalidArgument("listen port must be a number from 0 to 65535");
  }
  return std::make_pair(host, static_cast<uint16_t>(std::stoi(port)));
}

// The listener's limits: how many connections, and how long a request and an idle connection
// may take. Errors: kInvalidArgument naming the setting.
Status ApplyListenerLimits(const Settings& settings, http::ServerOptions& opts) {
  for (auto [name, field] : {std::pair{"read_timeout", &opts.read_timeout},
                             std::pair{"idle_timeout", &opts.idle_timeout}}) {
    auto d = ParseDuration(settings.Get(name));
    if (!d.ok()) return InvalidArgument(std::string(name) + ": " + d.status().message());
    if (d->count() < 1 || *d > std::chrono::hours(1)) {
      return InvalidArgument(std::string(name) + " must be from 1ms to 1 hour");
    }
    *field = *d;
  }
  const std::string& max = settings.Get("max_connections");
  uint64_t room = http::ConnectionLimitForDescriptors(http::DescriptorLimit());
  if (max == "auto") {
    opts.max_connections = static_cast<int>(room);
    return OkStatus();
  }
  if (max.empty() || max.size() > 7 || max.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(max) < 1) {
    return InvalidArgument("max_connections must be auto or a number from 1 to 9999999");
  }
  opts.max_connections = std::stoi(max);
  if (static_cast<uint64_t>(opts.max_connections) > room) {
    spdlog::warn(
        "max_connections {} is more than the open-file limit ({}) leaves room for ({}): past "
        "that, accepting waits for descriptors to be freed",
        opts.max_connections, http::DescriptorLimit(), room);
  }
  return OkStatus();
}

void PrintRootKey(const service::CreatedKey& k, bool json_output) {
  if (json_output) {
    nlohmann::json j = {{"rootKeyId", k.key_id}, {"rootKey", k.key.Reveal()}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "Created the first root key. It holds every permission and is shown only this once:\n"
        "  root key id: %s\n  root key:    %.*s\n"
        "Store it in your secrets manager; use it to create narrower root keys.\n",
        k.key_id.c_str(), static_cast<int>(k.key.Reveal().size()), k.key.Reveal().data());
  }
  std::fflush(stdout);
}

}  // namespace

int Init(const Settings& settings, bool json_output) {
  umask(077);
  crypto::SystemEnv env;
  auto opened = OpenDataDir(settings.Get("data_dir"), settings.Get("master_key_file"), env);
  if (!opened.ok()) {
    std::fprintf(stderr, "keyhold init: %s\n", opened.status().message().c_str());
    return 1;
  }
  if (!opened->created_root_key) {
    std::fprintf(stderr, "keyhold init: %s is already initialized (it has a root key)\n",
                 settings.Get("data_dir").c_str());
    return 1;
  }
  PrintRootKey(*opened->created_root_key, json_output);
  return 0;
}

namespace {

// Everything about the listener that comes from settings: address, threads, trusted proxies,
// limits. Errors: kInvalidArgument naming the setting.
Status ListenerOptions(const Settings& settings, http::ServerOptions& opts) {
  KH_ASSIGN_OR_RETURN(auto listen, SplitListen(settings.Get("listen")));
  opts.host = listen.first;
  opts.port = listen.second;
  opts.threads = std::atoi(settings.Get("threads").c_str());
  if (opts.threads < 1 || opts.threads > 256) return InvalidArgument("threads must be 1 to 256");
  opts.worker_threads = std::atoi(settings.Get("workers").c_str());
  if (opts.worker_threads < 1 || opts.worker_threads > 256) {
    return InvalidArgument("workers must be 1 to 256");
  }
  KH_ASSIGN_OR_RETURN(opts.trusted_proxies, TrustedProxies::Parse(settings.Get("trusted_proxies")));
  opts.tls_cert_file = settings.Get("tls_cert");
  opts.tls_key_file = settings.Get("tls_key");
  return ApplyListenerLimits(settings, opts);
}

// Whether `token` (letters, digits and '_') could be a key or a piece of one: a keyhold key, or a
// run of 16 or more letters and digits mixing capitals, small letters and digits, as the random
// part of any key does and names in paths almost never do. A key the client hid behind an escape
// (`%2F`), glued to other text, or split by a control byte is caught by its random part.
bool KeyLike(std::string_view token) {
  if (token.size() >= 20 && ParseKey(token).ok()) return true;
  size_t run = 0;
  bool upper = false, lower = false, digit = false;
  for (size_t i = 0; i <= token.size(); ++i) {
    unsigned char c = i < token.size() ? static_cast<unsigned char>(token[i]) : '_';
    if (std::isalnum(c) != 0) {
      ++run;
      upper = upper || std::isupper(c) != 0;
      lower = lower || std::islower(c) != 0;
      digit = digit || std::isdigit(c) != 0;
      continue;
    }
    if (run >= 16 && upper && lower && digit) return true;
    run = 0;
    upper = lower = digit = false;
  }
  return false;
}

// `text` (a method or path the client sent) as it may appear in a log line: at most 200 bytes,
// every byte that is not printable ASCII or is a space as '?', so a client cannot start a line of
// its own, and every key or piece of one in it (KeyLike) as "[key]"; appended to `out`.
void AppendForLog(std::string& out, std::string_view text) {
  // ASCII letters, digits and '_' (what a key is made of), without the locale's classification.
  auto is_word = [](unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  };
  if (text.empty()) {
    out += '-';
    return;
  }
  size_t token_start = 0;
  // `at`: where the token ends in what is written; a token the 200-byte cut goes through is
  // checked whole, so that a key there is not written all but its last characters.
  auto end_token = [&](size_t at) {
    size_t whole = at;
    while (whole < text.size() && is_word(static_cast<unsigned char>(text[whole]))) {
      ++whole;
    }
    std::string_view token = text.substr(token_start, whole - token_start);
    if (KeyLike(token)) {
      out.resize(out.size() - (at - token_start));
      out += "[key]";
    }
  };
  for (size_t i = 0; i < text.size() && i < 200; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    bool word = is_word(c);
    if (!word) {
      end_token(i);
      token_start = i + 1;
    }
    out.push_back(c > 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  end_token(std::min<size_t>(text.size(), 200));
  if (text.size() > 200) out += "...";
}

// What the listener reports: every request to `metrics`, one log line per request (unless the
// access log is off), handlers that threw, and accept failures.
void ReportTo(const Settings& settings, const ServerLog& log, http::HttpMetrics& metrics,
              http::ServerOptions& opts) {
  std::shared_ptr<spdlog::logger> access =
      settings.Get("access_log") == "true" ? log.access() : nullptr;
  opts.on_response = [access, &metrics](const RequestContext& ctx, const http::HttpRequest& r,
                                        int status, std::chrono::microseconds took,
                                        size_t response_bytes) {
    metrics.Record(r, status, took, response_bytes);
    if (!access) return;
    // Path only: a query string may carry a key. The actor is a key id, never key material.
    // A request refused before its request line arrived has neither method nor path: "-".
    // Formatted here, written in the background (server/logging.h).
    // Written by appends into a buffer the thread keeps: no format string parsed per request.
    thread_local std::string line;
    line.clear();
    line += ctx.request_id;
    line += ' ';
    AppendForLog(line, r.method);
    line += ' ';
    AppendForLog(line, r.Path());
    line += ' ';
    line += fmt::format_int(status).c_str();
    line += ' ';
    line += fmt::format_int(took.count()).c_str();
    line += "us ";
    line += ctx.client_ip;
    line += ' ';
    line += ctx.actor.key_id.empty() ? std::string_view("-") : std::string_view(ctx.actor.key_id);
    access->log(spdlog::level::info, spdlog::string_view_t(line.data(), line.size()));
  };
  opts.on_handler_failure = [](const RequestContext& ctx, std::string_view what) {
    spdlog::error("{} handler failed: {}", ctx.request_id, what);
  };
  opts.on_accept_failure = [](std::string_view error) {
    spdlog::warn("cannot accept connections ({}); trying again every 100 ms", error);
  };
}

// Blocks SIGTERM and SIGINT in this thread and every thread it starts afterwards, so that only
// WaitForStopSignal receives them.
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// The /forward-auth surface's options from `settings` (nullopt: not served), with the addresses
// its brute-force guard blocks raised as alerts through `alerts`. Errors: as ForwardAuthSettings.
StatusOr<std::optional<http::forward_auth::ForwardAuthOptions>> ForwardAuthFor(
    const Settings& settings, audit::AlertQueue& alerts) {
  auto options = ForwardAuthSettings(settings);
  if (!options.ok() || !*options) return options;
  http::forward_auth::ForwardAuthOptions& o = **options;
  o.on_block = [&alerts, cooldown = o.brute_force.cooldown_ms](const std::string& address,
                                                               int64_t failures, int64_t now) {
    audit::Alert a = BruteForceAlert(address, failures, now, now + cooldown);
    spdlog::warn("brute force: {} (forward-auth)", a.evidence_json);
    alerts.Post(std::move(a));
  };
  spdlog::info("serving /forward-auth for {} API(s), {} route rule(s){}", o.api_ids.size(),
               o.routes->routes().size(), o.nginx_mode ? ", nginx mode" : "");
  if (settings.Get("trusted_proxies").empty()) {
    spdlog::warn(
        "/forward-auth is served but --trusted-proxies is empty: every request is attributed to "
        "the proxy's address, so IP allowlists and the brute-force guard see the proxy");
  }
  return options;
}

// Every surface the server serves, mounted on one router.
struct Surfaces {
  Surfaces(service::KeyService& keys, service::AuditService& audit,
           service::AnalyticsService& analytics, service::AlertService& alerts,
           service::SecretService* secrets, http::vault::SealControl* seal, Env& env,
           const metrics::Registry& registry, http::MetricsAccess metrics_access,
           const http::Readiness& readiness,
           std::optional<http::forward_auth::ForwardAuthOptions> forward_auth_options,
           http::LeakReportKeyFile* leak_report_keys)
      : unkey(keys, audit, analytics, alerts),
        secret_rotation(keys),
        vault({.version = KEYHOLD_VERSION, .seal = seal}, env, &keys, secrets),
        health(KEYHOLD_VERSION, readiness),
        metrics(registry, metrics_access, keys) {
    router.Mount("/v2/", unkey);
    router.Mount("/v2/secrets.", secret_rotation);
    router.Mount("/v1/", vault);
    router.Mount("/health", health);
    router.Mount("/metrics", metrics);
    if (forward_auth_options) {
      forward_auth.emplace(keys, env, std::move(*forward_auth_options));
      router.Mount(std::string(http::forward_auth::kPrefix), *forward_auth);
    }
    if (leak_report_keys != nullptr) {
      leak_reports.emplace(keys, *leak_report_keys);
      router.Mount(std::string(http::kLeakReportPath), *leak_reports);
    }
  }
  http::unkey::UnkeyApi unkey;
  http::unkey::RotationApi secret_rotation;
  http::vault::VaultApi vault;
  http::HealthSurface health;
  http::MetricsSurface metrics;
  std::optional<http::forward_auth::ForwardAuth> forward_auth;  // when forward_auth_apis is set
  std::optional<http::LeakReportSurface> leak_reports;          // when leak_report_keys is set
  http::Router router;
};

// While the server starts (the data directory opened, the keys loaded): `/health` answered, every
// other path 503, on the address the server will serve on.
struct StartingSurfaces {
  explicit StartingSurfaces(const http::Readiness& readiness) : health(KEYHOLD_VERSION, readiness) {
    router.Mount("/health", health);
    router.Mount("/", loading);
  }
  http::HealthSurface health;
  http::LoadingSurface loading;
  http::Router router;
};

// Runs `tick` on a thread of its own every `interval` (and first at once, if `at_start`), and once
// more when stopped, if `at_stop`. Stop wakes the thread at once and waits for a tick in progress.
class PeriodicTask {
 public:
  PeriodicTask(std::chrono::milliseconds interval, bool at_start, bool at_stop,
               std::function<void()> tick)
      : interval_(interval),
        at_start_(at_start),
        at_stop_(at_stop),
        tick_(std::move(tick)),
        thread_([this] { Run(); }) {}
  ~PeriodicTask() { Stop(); }
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
    if (at_stop_) tick_();
  }

 private:
  void Run() {
    pthread_setname_np(pthread_self(), "kh-periodic");  // as top -H and perf show it
    if (at_start_) tick_();
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, interval_, [&] { return stopping_; })) {
      lock.unlock();
      tick_();
      lock.lock();
    }
  }

  const std::chrono::milliseconds interval_;
  const bool at_start_;
  const bool at_stop_;
  const std::function<void()> tick_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;     // last: starts once the rest is set
};

// Checks every 2 s that the store still answers and that its database file is still the one
// opened (not removed or replaced underneath); readiness follows. Runs off the request threads,
// since a check waits for the store's lock.
std::unique_ptr<PeriodicTask> WatchStore(store::Store& store, const std::string& db_path,
                                         http::Readiness& readiness) {
  auto inode = [db_path] {
    struct stat st {};
    return stat(db_path.c_str(), &st) == 0 ? st.st_ino : 0;
  };
  auto check = [&store, &readiness, db_path, inode, opened = inode(), was_ok = true]() mutable {
    bool ok = opened != 0 && inode() == opened && store.SchemaVersion() >= 0;
    if (ok != was_ok) {
      if (ok) {
        spdlog::info("the store answers again: ready");
      } else {
        spdlog::error("the store does not answer, or {} was removed or replaced: not ready",
                      db_path);
      }
      was_ok = ok;
    }
    readiness.Set(ok ? http::Readiness::State::kReady : http::Readiness::State::kStoreUnreachable);
  };
  return std::make_unique<PeriodicTask>(std::chrono::seconds(2), /*at_start=*/true,
                                        /*at_stop=*/false, std::move(check));
}

// Signs a checkpoint of the audit log every `interval` while it grows, and once more when stopped.
// Each is stored and also logged as one JSON line: the log, shipped elsewhere, is the outside copy
// that shows later whether the log was truncated or rewritten (`keyhold audit verify
// --checkpoints`).
std::unique_ptr<PeriodicTask> CheckpointAudit(service::AuditService& audit,
                                              audit::CheckpointSigner signer,
                                              std::chrono::milliseconds interval) {
  auto sign = [&audit,
               signer = std::make_shared<const audit::CheckpointSigner>(std::move(signer))] {
    auto cp = audit.Checkpoint(*signer);
    if (!cp.ok()) {
      spdlog::error("audit checkpoint not written: {} ({})", cp.status().message(),
                    cp.status().log_detail());
    } else if (*cp) {
      spdlog::info("audit checkpoint {}", audit::ToJson(**cp));
    }
  };
  return std::make_unique<PeriodicTask>(interval, /*at_start=*/false, /*at_stop=*/true,
                                        std::move(sign));
}

// Records as interrupted the rotations keyhold was killed under (SecretRotator::Recover), before
// any rotation can start. A store that cannot be read is logged: the rotations themselves work.
void RecoverSecretRotation(service::SecretRotator& rotator) {
  auto recorded = rotator.Recover();
  if (!recorded.ok()) {
    spdlog::warn("the rotations interrupted by the last stop could not be recorded: {}",
                 recorded.status().message());
  } else if (*recorded > 0) {
    spdlog::warn(
        "{} rotation(s) of held secrets were interrupted by the last stop; rotate them "
        "again to retry (keyhold secrets due)",
        *recorded);
  }
}

// Raises the reminders of secrets due for rotation (SecretRotator::SweepDue) at start and every
// `interval`.
std::unique_ptr<PeriodicTask> SweepSecretRotation(service::SecretRotator& rotator,
                                                  std::chrono::milliseconds interval) {
  return std::make_unique<PeriodicTask>(interval, /*at_start=*/true, /*at_stop=*/false, [&rotator] {
    auto raised = rotator.SweepDue();
    if (!raised.ok()) {
      spdlog::warn("due secrets could not be looked for: {}", raised.status().message());
    }
  });
}

// What needs the master key: the secrets keyring, webhook delivery (endpoint signing secrets are
// sealed with a key derived from it) and audit checkpoint signing. Started at once when the
// master key is at hand, else when the server is unsealed. Until then alerts wait in the durable
// outbox and the audit log grows unsigned: nothing is lost, only delayed.
class KeyedServices {
 public:
  KeyedServices(store::Store& store, Env& env, audit::DeliveryOptions delivery_options,
                std::chrono::milliseconds checkpoint_every,
                SecretRotationSettings rotation_settings, std::chrono::milliseconds sweep_every)
      : store_(store),
        env_(env),
        delivery_options_(delivery_options),
        checkpoint_every_(checkpoint_every),
        rotation_settings_(std::move(rotation_settings)),
        sweep_every_(sweep_every) {}
  KeyedServices(const KeyedServices&) = delete;
  KeyedServices& operator=(const KeyedServices&) = delete;
  ~KeyedServices() { Stop(); }

  // Errors: the master key does not open the secrets keyring (kFailedPrecondition), or the store
  // does not answer. Nothing is started then. `post_alert` takes the alerts of secret reads that
  // could not be audited (it must not wait: SecretService::SetUnauditedReadAlert).
  Status Start(std::span<const uint8_t> master_key, service::AuditService& audit,
               audit::AlertSink* alerts, std::function<void(audit::Alert)> post_alert) {
    std::lock_guard lock(mu_);
    if (secrets_) return OkStatus();
    KH_ASSIGN_OR_RETURN(audit::CheckpointSigner signer,
                        audit::CheckpointSigner::FromMasterKey(master_key));
    auto secrets = service::SecretService::Open(store_, env_, master_key);
    if (!secrets.ok()) {
      return Status(secrets.status().code(), secrets.status().reason(),
                    "cannot open the secrets keyring: " + secrets.status().message());
    }
    crypto::Sha256Digest webhook_key = audit::WebhookSecretKey(master_key);
    delivery_ =
        std::make_unique<audit::WebhookDelivery>(store_, env_, webhook_key, delivery_options_);
    OPENSSL_cleanse(webhook_key.data(), webhook_key.size());
    delivery_->Start();
    {
      std::unique_lock delivery_lock(delivery_mu_);
      delivery_ptr_ = delivery_.get();
    }
    checkpointer_ = CheckpointAudit(audit, std::move(signer), checkpoint_every_);
    (*secrets)->SetUnauditedReadAlert(std::move(post_alert));
    secrets_ = std::move(secrets).value();
    rotation_ =
        std::make_unique<SecretRotation>(rotation_settings_, *secrets_, store_, env_, alerts);
    if (!address_.empty()) rotation_->SetAddress(address_);
    RecoverSecretRotation(rotation_->rotator());
    reminders_ = SweepSecretRotation(rotation_->rotator(), sweep_every_);
    return OkStatus();
  }
  // Where rotation commands reach this server, once it listens.
  void SetAddress(std::string address) {
    std::lock_guard lock(mu_);
    address_ = std::move(address);
    if (rotation_) rotation_->SetAddress(address_);
  }
  // Null while sealed.
  service::SecretRotator* rotator() {
    std::lock_guard lock(mu_);
    return rotation_ ? &rotation_->rotator() : nullptr;
  }
  // Deliveries pending as the delivery worker last counted them; -1 while sealed (not started).
  int64_t PendingDeliveries() const {
    std::shared_lock lock(delivery_mu_);
    return delivery_ptr_ ? delivery_ptr_->Pending() : -1;
  }
  // Wakes webhook delivery, once started (an alert was queued).
  void Wake() {
    std::shared_lock lock(delivery_mu_);
    if (delivery_ptr_) delivery_ptr_->Wake();
  }
  service::SecretService* secrets() {
    std::lock_guard lock(mu_);
    return secrets_.get();
  }
  // Stops secret rotation (SecretRotator::Stop): the running steps are ended and recorded as
  // failed. Called while the server still serves: a command calls back into it as it ends.
  void StopRotation() {
    std::lock_guard life(rotation_life_mu_);
    StopRotationLocked();
  }
  // Stop(), then closes the secret service once the store has answered every read it started:
  // before what those answers reach (the alert queue) goes away.
  void Close() {
    Stop();
    std::lock_guard life(rotation_life_mu_);
    std::unique_ptr<service::SecretService> secrets;
    {
      std::lock_guard lock(mu_);
      reminders_.reset();
      rotation_.reset();  // holds the secret service
      secrets = std::move(secrets_);
    }
    secrets.reset();  // not under mu_: waits for the store's thread
  }
  // Takes back what Start gave, so that Start may give it again: rotation stops (the steps under
  // way end as interrupted, as at a stop), the secret service closes once its reads are answered
  // and its re-wrap has stopped, delivery stops, a last checkpoint is signed; the keyring, the
  // webhook key and the checkpoint key go with them, zeroed. REQUIRES: no request can reach
  // secrets() or rotator() any more (the surfaces were given null).
  void Seal() {
    // Held until the rotator is gone: a StopRotation meanwhile (a SIGTERM) waits for it.
    std::lock_guard life(rotation_life_mu_);
    StopRotationLocked(service::StopReason::kSeal);
    std::unique_ptr<PeriodicTask> reminders;
    std::unique_ptr<SecretRotation> rotation;
    std::unique_ptr<service::SecretService> secrets;
    std::unique_ptr<audit::WebhookDelivery> delivery;
    std::unique_ptr<PeriodicTask> checkpointer;
    {
      std::lock_guard lock(mu_);
      reminders = std::move(reminders_);
      rotation = std::move(rotation_);
      secrets = std::move(secrets_);
      checkpointer = std::move(checkpointer_);
      std::unique_lock delivery_lock(delivery_mu_);  // Wake and PendingDeliveries are done with it
      delivery_ptr_ = nullptr;
      delivery = std::move(delivery_);
    }
    // Not under mu_: each waits for a thread (the store's, delivery's, the signer's).
    reminders.reset();
    rotation.reset();  // holds the secret service
    secrets.reset();
    if (delivery) delivery->Stop();
    delivery.reset();
    checkpointer.reset();  // signs a last checkpoint as it stops
  }
  // Stops rotation, delivery and checkpoint signing (a last checkpoint is signed, after all else).
  void Stop() {
    StopRotation();
    std::lock_guard lock(mu_);
    if (reminders_) reminders_->Stop();
    if (delivery_) delivery_->Stop();
    if (checkpointer_) checkpointer_->Stop();
  }

 private:
  // REQUIRES: rotation_life_mu_ held, so that the rotator cannot be destroyed under Stop.
  void StopRotationLocked(service::StopReason reason = service::StopReason::kShutdown) {
    service::SecretRotator* rotator = this->rotator();
    if (rotator) rotator->Stop(reason);  // not under mu_: requests ask for the rotator meanwhile
  }

  store::Store& store_;
  Env& env_;
  const audit::DeliveryOptions delivery_options_;
  const std::chrono::milliseconds checkpoint_every_;
  // Held across stopping the rotator and destroying it (StopRotation, Seal, Close), so that one
  // never stops a rotator another has destroyed. Taken before mu_, never under it.
  std::mutex rotation_life_mu_;
  std::mutex mu_;
  std::unique_ptr<service::SecretService> secrets_;   // guarded by mu_
  std::unique_ptr<audit::WebhookDelivery> delivery_;  // guarded by mu_
  // delivery_, for Wake (called as alerts are queued, also under mu_) without mu_.
  mutable std::shared_mutex delivery_mu_;
  audit::WebhookDelivery* delivery_ptr_ = nullptr;  // guarded by delivery_mu_
  std::unique_ptr<PeriodicTask> checkpointer_;      // guarded by mu_
  const SecretRotationSettings rotation_settings_;
  const std::chrono::milliseconds sweep_every_;
  std::string address_;                       // guarded by mu_
  std::unique_ptr<SecretRotation> rotation_;  // guarded by mu_
  std::unique_ptr<PeriodicTask> reminders_;   // guarded by mu_
};

// Writes last-used times every few seconds from its own thread (usage metadata: not on the verify
// path), and once more when stopped; gives back the credits reserved for keys idle for a few
// seconds (KeyService::ReleaseReservedCredits), so that a crash can forfeit only what keys busy
// at that moment had reserved.
std::unique_ptr<PeriodicTask> FlushLastUsed(service::KeyService& keys) {
  return std::make_unique<PeriodicTask>(
      std::chrono::seconds(5), /*at_start=*/false,
      /*at_stop=*/true, [&keys] {
        Status st = keys.FlushLastUsed();
        if (!st.ok()) spdlog::warn("could not store last-used times: {}", st.message());
        st = keys.ReleaseReservedCredits(/*idle_ms=*/5000);
        if (!st.ok()) spdlog::warn("could not give back reserved credits: {}", st.message());
      });
}

// Applies the rotation policies (KeyService::SweepRotation) at start and every `interval`.
std::unique_ptr<PeriodicTask> SweepRotation(service::KeyService& keys,
                                            std::chrono::milliseconds interval) {
  return std::make_unique<PeriodicTask>(interval, /*at_start=*/true, /*at_stop=*/false, [&keys] {
    auto swept = keys.SweepRotation();
    if (!swept.ok()) {
      spdlog::warn("rotation policies could not be applied: {}", swept.status().message());
    } else if (swept->alerts || swept->expired) {
      spdlog::info("rotation policies: {} keys newly due, {} overdue keys given an expiry",
                   swept->alerts, swept->expired);
    }
  });
}

// The alert outbox's settings. Errors: kInvalidArgument naming the setting.
Status AlertSettings(const Settings& settings, service::AlertOptions& alerts,
                     audit::DeliveryOptions& delivery) {
  const std::pair<const char*, std::chrono::milliseconds*> durations[] = {
      {"alert_dedupe_window", &alerts.dedupe_window},
      {"webhook_secret_grace", &alerts.secret_grace},
      {"alert_retention", &delivery.retention},
      {"webhook_max_age", &delivery.max_age},
      {"webhook_backoff_base", &delivery.backoff_base},
      {"webhook_backoff_cap", &delivery.backoff_cap},
      {"webhook_timeout", &delivery.timeout}};
  for (auto [name, field] : durations) {
    auto d = ParseDuration(settings.Get(name));
    if (!d.ok()) return InvalidArgument(std::string(name) + ": " + d.status().message());
    if (d->count() < 1) return InvalidArgument(std::string(name) + " must be at least 1ms");
    *field = *d;
  }
  const std::string& attempts = settings.Get("webhook_max_attempts");
  if (attempts.empty() || attempts.size() > 3 ||
      attempts.find_first_not_of("0123456789") != std::string::npos || std::stoi(attempts) < 1 ||
      std::stoi(attempts) > 100) {
    return InvalidArgument("webhook_max_attempts must be a number from 1 to 100");
  }
  delivery.max_attempts = std::stoi(attempts);
  const std::string& allow = settings.Get("webhook_allow_private_networks");
  if (allow != "true" && allow != "false") {
    return InvalidArgument("webhook_allow_private_networks must be true or false");
  }
  delivery.allow_private_networks = allow == "true";
  return OkStatus();
}

// Every check of a setting's value that Serve makes, without side effects: the first problem.
Status ValidateSettings(const Settings& settings) {
  http::ServerOptions opts;
  KH_RETURN_IF_ERROR(ListenerOptions(settings, opts));
  KH_RETURN_IF_ERROR(http::ParseMetricsAccess(settings.Get("metrics_access")).status());
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info",     "warn", "warning",
                                                 "error", "err",   "critical", "off"};
  const std::string& level = settings.Get("log_level");
  if (std::find(std::begin(kLevels), std::end(kLevels), level) == std::end(kLevels)) {
    return InvalidArgument("log_level must be trace, debug, info, warn, error or off");
  }
  for (const char* name : {"access_log", "usage_recording"}) {
    if (settings.Get(name) != "true" && settings.Get(name) != "false") {
      return InvalidArgument(std::string(name) + " must be true or false");
    }
  }
  for (auto [name, min_ms] :
       {std::pair{"rotation_sweep_interval", 100}, std::pair{"audit_checkpoint_interval", 1},
        std::pair{"usage_flush_interval", 1}, std::pair{"usage_retention", 1}}) {
    auto d = ParseDuration(settings.Get(name));
    if (!d.ok()) return InvalidArgument(std::string(name) + ": " + d.status().message());
    if (d->count() < min_ms) {
      return InvalidArgument(std::string(name) + " must be at least " + std::to_string(min_ms) +
                             "ms");
    }
  }
  service::AlertOptions alerts;
  audit::DeliveryOptions delivery;
  KH_RETURN_IF_ERROR(AlertSettings(settings, alerts, delivery));
  bool detect = false;
  KH_RETURN_IF_ERROR(AnomalyOptions(settings, std::chrono::seconds(1), &detect).status());
  KH_RETURN_IF_ERROR(CreditsLowThreshold(settings).status());
  KH_RETURN_IF_ERROR(BruteForceOptions(settings).status());
  KH_RETURN_IF_ERROR(ForwardAuthSettings(settings).status());  // and its route rules file
  if (const std::string& keys = settings.Get("leak_report_keys"); !keys.empty()) {
    auto file = http::LeakReportKeyFile::Open(keys);
    if (!file.ok()) return InvalidArgument("leak_report_keys: " + file.status().message());
  }
  KH_RETURN_IF_ERROR(ReadSecretRotationSettings(settings).status());
  return OkStatus();
}

}  // namespace

int CheckConfig(Settings& settings, const std::string& toml_path) {
  spdlog::set_default_logger(spdlog::stderr_logger_mt("keyhold"));
  std::vector<std::pair<int64_t, std::string>> problems;
  for (auto& p : settings.ResolveAll(toml_path)) {
    problems.emplace_back(p.line, toml_path + ":" + std::to_string(p.line) + ": " + p.message);
  }
  // A problem with `name`'s value, sorted by its line in the file (else first).
  auto add = [&](const std::string& name, const std::string& message) {
    std::string origin = settings.Origin(name);
    int64_t line =
        settings.Source(name) == "file" ? std::stoll(origin.substr(origin.rfind(':') + 1)) : 0;
    problems.emplace_back(line, origin + ": " + message);
  };
  // Each setting alone, the others at their defaults, so every bad value is named.
  for (const Setting& s : settings.Table()) {
    if (settings.Source(s.name) == "default") continue;
    if (Status st = ValidateSettings(settings.Isolated(s.name)); !st.ok())
      add(s.name, st.message());
  }
  if (settings.Get("tls_cert").empty() != settings.Get("tls_key").empty()) {
    add(settings.Get("tls_cert").empty() ? "tls_key" : "tls_cert",
        "tls_cert and tls_key go together");
  }
  for (const char* name : {"tls_cert", "tls_key", "master_key_file"}) {
    const std::string& file = settings.Get(name);
    if (!file.empty() && access(file.c_str(), R_OK) != 0) {
      add(name, "cannot read " + file + ": " + std::strerror(errno));
    }
  }
  if (Status st = CheckSecretRotationPairs(settings); !st.ok()) {
    add("secret_rotation_webhook", st.message());
  }
  if (const std::string& command = settings.Get("secret_rotation_command");
      command.starts_with('/') && access(command.c_str(), X_OK) != 0) {
    add("secret_rotation_command", "cannot run " + command + ": " + std::strerror(errno));
  }
  std::stable_sort(problems.begin(), problems.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& p : problems) std::fprintf(stderr, "%s\n", p.second.c_str());
  if (!problems.empty()) {
    std::fprintf(stderr, "%zu problem%s; nothing served\n", problems.size(),
                 problems.size() == 1 ? "" : "s");
    return 2;
  }
  size_t from_file = 0;
  for (const Setting& s : settings.Table()) from_file += settings.Source(s.name) == "file";
  std::printf("%s: ok (%zu settings from the file, the rest from flags, KEYHOLD_* or defaults)\n",
              toml_path.c_str(), from_file);
  return 0;
}

int Serve(const Settings& settings) {
  umask(077);  // the database and its journal are as private as the data directory
  DisableCoreDumps();
  sigset_t signals = BlockStopSignals();  // before any thread starts, the logger's among them
  // A log reader (a pipe to a shipper) that goes away must not kill the server: a write to it
  // fails with EPIPE instead, and the line is lost.
  std::signal(SIGPIPE, SIG_IGN);
  // Logs go to standard error; standard output carries only the one-time root key.
  ServerLog log(spdlog::level::off);  // what ValidateSettings warns of is warned again below
  if (Status st = ValidateSettings(settings); !st.ok()) {
    std::fprintf(stderr, "keyhold serve: %s\n", st.message().c_str());
    return 2;
  }
  log.SetLevel(spdlog::level::from_str(settings.Get("log_level")));
  // Possible only before SQLite initializes, and no other thread uses it yet: before any store
  // opens. Only a matter of speed, so a refusal is worth a warning, not a stop.
  if (Status st = store::SqliteStore::TurnOffMemoryStatistics(); !st.ok()) {
    spdlog::warn("{}", st.message());
  }
  http::ServerOptions opts;
  if (Status st = ListenerOptions(settings, opts); !st.ok()) {
    std::fprintf(stderr, "keyhold serve: %s\n", st.message().c_str());
    return 2;
  }
  auto metrics_access = http::ParseMetricsAccess(settings.Get("metrics_access"));
  if (!metrics_access.ok()) {
    std::fprintf(stderr, "keyhold serve: %s\n", metrics_access.status().message().c_str());
    return 2;
  }

  crypto::SystemEnv env;
  if (!crypto::InitSecureHeap()) {
    spdlog::warn(
        "key material is not in locked memory: the system refused to lock it "
        "(raise RLIMIT_MEMLOCK, e.g. LimitMEMLOCK= in a systemd unit)");
  }
  opts.new_request_id = [&env] { return NewRequestId(env); };
  // Health checks are answered while the keys load: live, not ready.
  http::Readiness readiness;
  StartingSurfaces starting(readiness);
  std::unique_ptr<http::HttpServer> early;
  Status early_status = OkStatus();
  auto opened = OpenDataDir(
      settings.Get("data_dir"), settings.Get("master_key_file"), env, DataDirLock::kServing,
      [&]() -> Status {
        auto s = http::HttpServer::Start(opts, starting.router);
        if (!s.ok()) {
          early_status = s.status();
          return early_status;
        }
        early = std::move(s).value();
        spdlog::info("opening the data directory and loading keys; health checks answered on {}",
                     early->LocalAddress());
        return OkStatus();
      });
  if (!early_status.ok()) {
    spdlog::error("{}", early_status.message());
    return 1;
  }
  if (!opened.ok()) {
    spdlog::error("cannot open data directory {}: {}", settings.Get("data_dir"),
                  opened.status().message());
    return 1;
  }
  if (opened->created_root_key) PrintRootKey(*opened->created_root_key, /*json_output=*/false);

  auto sweep_every = ParseDuration(settings.Get("rotation_sweep_interval"));
  if (!sweep_every.ok() || sweep_every->count() < 100) {
    spdlog::error("--rotation-sweep-interval: {}",
                  sweep_every.ok() ? "must be at least 100ms" : sweep_every.status().message());
    return 2;
  }
  auto checkpoint_every = ParseDuration(settings.Get("audit_checkpoint_interval"));
  if (!checkpoint_every.ok() || checkpoint_every->count() < 1) {
    spdlog::error("--audit-checkpoint-interval: {}", checkpoint_every.ok()
                                                         ? "must be at least 1ms"
                                                         : checkpoint_every.status().message());
    return 2;
  }
  service::UsageOptions usage_options;
  for (auto [name, field] : {std::pair{"usage_flush_interval", &usage_options.flush_interval},
                             std::pair{"usage_retention", &usage_options.retention}}) {
    auto d = ParseDuration(settings.Get(name));
    if (!d.ok() || d->count() < 1) {
      spdlog::error("{}: {}", name, d.ok() ? "must be at least 1ms" : d.status().message());
      return 2;
    }
    *field = *d;
  }
  service::AlertOptions alert_options;
  audit::DeliveryOptions delivery_options;
  if (Status st = AlertSettings(settings, alert_options, delivery_options); !st.ok()) {
    spdlog::error("{}", st.message());
    return 2;
  }
  auto rotation_settings = ReadSecretRotationSettings(settings);
  if (Status st =
          rotation_settings.ok() ? CheckSecretRotationPairs(settings) : rotation_settings.status();
      !st.ok()) {
    spdlog::error("{}", st.message());
    return 2;
  }
  KeyedServices keyed(*opened->store, env, delivery_options, *checkpoint_every, *rotation_settings,
                      *sweep_every);
  alert_options.on_queued = [&keyed] { keyed.Wake(); };
  std::unique_ptr<service::AlertService> alerts =
      service::AlertService::Create(*opened->store, env, opened->master_key.view(), alert_options);
  opened->service->SetAlertSink(alerts.get());
  std::unique_ptr<service::AuditService> audit = service::AuditService::Create(*opened->store, env);
  // Whatever way Serve returns, the keyed services stop while the audit service (which the
  // checkpoint signer uses once more as it stops) still exists.
  struct StopKeyed {
    KeyedServices& keyed;
    ~StopKeyed() { keyed.Stop(); }
  } stop_keyed{keyed};
  bool detect_anomalies = false;
  auto anomaly_options = AnomalyOptions(settings, usage_options.flush_interval, &detect_anomalies);
  if (!anomaly_options.ok()) {
    spdlog::error("{}", anomaly_options.status().message());
    return 2;
  }
  // Detections and blocks are raised off the verify and flush paths, through a queue.
  audit::AlertQueue alert_queue(*alerts);
  alert_queue.Start();
  std::optional<service::AnomalyMonitor> anomalies;
  service::UsageRecorder usage(*opened->store, env, usage_options);
  const std::string& recording = settings.Get("usage_recording");
  if (recording != "true" && recording != "false") {
    spdlog::error("usage_recording: use true or false");
    return 2;
  }
  if (detect_anomalies && recording == "true") {
    anomalies.emplace(*opened->store, std::move(anomaly_options).value(),
                      [&alert_queue](const anomaly::Detection& d) {
                        spdlog::warn("anomaly detected: {}", service::DetectionJson(d).dump());
                        alert_queue.Post(AlertOf(d));
                      });
    usage.SetObserver(&*anomalies);
  }
  if (recording == "true") opened->service->SetUsageRecorder(&usage);
  std::unique_ptr<service::AnalyticsService> analytics =
      service::AnalyticsService::Create(*opened->store, env, &usage);
  auto credits_low = CreditsLowThreshold(settings);
  if (!credits_low.ok()) {
    spdlog::error("{}", credits_low.status().message());
    return 2;
  }
  opened->service->SetCreditsLowAlert(
      *credits_low, [&alert_queue](const service::KeyView& key, int64_t left, int64_t threshold) {
        alert_queue.Post(CreditsLowAlert(key, left, threshold));
      });
  auto brute_force_options = BruteForceOptions(settings);
  if (!brute_force_options.ok()) {
    spdlog::error("{}", brute_force_options.status().message());
    return 2;
  }
  service::BruteForceGuard brute_force(*brute_force_options);
  if (brute_force.enabled()) {
    opened->service->SetBruteForceGuard(
        &brute_force, [&alert_queue, cooldown = brute_force_options->cooldown_ms](
                          const std::string& address, int64_t failures, int64_t now) {
          audit::Alert a = BruteForceAlert(address, failures, now, now + cooldown);
          spdlog::warn("brute force: {}", a.evidence_json);
          alert_queue.Post(std::move(a));
        });
  }
  if (Status st = usage.Start(); !st.ok()) {
    // Nothing could be journaled (writing a minute removes its journal entries, read or not):
    // serving would count verifications only to lose them at the stop.
    spdlog::error(
        "the usage journal cannot be read ({}; {}): not starting, so that the usage it holds and "
        "the usage to come are not lost; repair or restore the store",
        st.message(), st.log_detail());
    return 1;
  }
  metrics::Registry registry;
  RegisterServerMetrics(registry, *opened->service, usage, KEYHOLD_VERSION);
  RegisterAlertMetrics(registry, alert_queue);
  RegisterDeliveryMetrics(registry, [&keyed] { return keyed.PendingDeliveries(); });
  RegisterSealMetric(registry, readiness);
  // Sealed: the master key comes from shares (PUT /v1/sys/unseal); everything else serves now.
  // A read refused for want of its audit entry is seen on the store's commit thread: queued.
  auto post_alert = [&alert_queue](audit::Alert a) { alert_queue.Post(std::move(a)); };
  std::optional<Unsealer> unsealer;
  http::vault::VaultApi* vault_api = nullptr;  // set below, before the listener starts
  http::unkey::RotationApi* rotation_api = nullptr;
  if (opened->master_key.empty()) {
    unsealer.emplace(
        *opened->seal, env,
        [&](std::span<const uint8_t> key) -> Status {
          KH_RETURN_IF_ERROR(keyed.Start(key, *audit, alerts.get(), post_alert));
          alerts->Unseal(key);
          vault_api->SetSecrets(keyed.secrets());
          rotation_api->Set(keyed.rotator(), keyed.secrets());
          readiness.SetSealed(false);
          return OkStatus();
        },
        // The audit log is in the store, not under the master key: written while sealed.
        [&](const audit::AuditEntry& entry) {
          store::WriteBatch batch;
          batch.audit.push_back(entry);
          return opened->store->Apply(batch);
        },
        // Sealed again (PUT /v1/sys/seal): the surfaces let no new request at the secrets and
        // wait for those under way, then what holds key material stops and frees it.
        [&] {
          readiness.SetSealed(true);
          vault_api->SetSecrets(nullptr);
          rotation_api->Set(nullptr, nullptr);
          keyed.Seal();
          alerts->Seal();
        });
    readiness.SetSealed(true);
    spdlog::warn(
        "sealed: keys are verified, but secrets, webhook delivery and audit checkpoints wait "
        "until {} of {} unseal shares are given (keyhold operator unseal)",
        opened->seal->threshold, opened->seal->shares);
  } else if (Status st = keyed.Start(opened->master_key.view(), *audit, alerts.get(), post_alert);
             !st.ok()) {
    spdlog::error("{}", st.message());
    return 2;
  }
  auto forward_auth = ForwardAuthFor(settings, alert_queue);
  if (!forward_auth.ok()) {
    spdlog::error("{}", forward_auth.status().message());
    return 2;
  }
  std::unique_ptr<http::LeakReportKeyFile> leak_report_keys;
  if (const std::string& path = settings.Get("leak_report_keys"); !path.empty()) {
    auto file = http::LeakReportKeyFile::Open(path);
    if (!file.ok()) {
      spdlog::error("leak_report_keys: {}", file.status().message());
      return 2;
    }
    leak_report_keys = std::move(file).value();
    spdlog::info("serving POST {} for reports signed with the keys in {}", http::kLeakReportPath,
                 path);
  }
  Surfaces surfaces(*opened->service, *audit, *analytics, *alerts, keyed.secrets(),
                    unsealer ? &*unsealer : nullptr, env, registry, *metrics_access, readiness,
                    std::move(forward_auth).value(), leak_report_keys.get());
  vault_api = &surfaces.vault;
  surfaces.secret_rotation.Set(keyed.rotator(), keyed.secrets());  // null while sealed
  rotation_api = &surfaces.secret_rotation;
  http::HttpMetrics http_metrics(registry, surfaces.router);
  ReportTo(settings, log, http_metrics, opts);
  if (early) {  // the real listener takes over the address (and the port it was given, if 0)
    std::string bound = early->LocalAddress();
    opts.port = static_cast<uint16_t>(std::stoi(bound.substr(bound.rfind(':') + 1)));
    early->Shutdown(std::chrono::milliseconds(0));
    early.reset();
  }
  auto server = http::HttpServer::Start(opts, surfaces.router);
  if (!server.ok()) {
    spdlog::error("{}", server.status().message());
    return 1;
  }
  spdlog::info("keyhold {} listening on {}://{} ({} keys loaded)", KEYHOLD_VERSION,
               opts.tls_cert_file.empty() ? "http" : "https", (*server)->LocalAddress(),
               opened->service->KeyCount());
  spdlog::info("at most {} connections; requests within {} ms, idle connections closed after {} ms",
               opts.max_connections, opts.read_timeout.count(), opts.idle_timeout.count());
  keyed.SetAddress(CommandAddress(!opts.tls_cert_file.empty(), (*server)->LocalAddress()));
  auto flusher = FlushLastUsed(*opened->service);
  auto rotation = SweepRotation(*opened->service, *sweep_every);
  auto store_watch =
      WatchStore(*opened->store, settings.Get("data_dir") + "/keyhold.db", readiness);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, draining in-flight requests", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  store_watch->Stop();
  readiness.Set(http::Readiness::State::kStopping);
  // Before the requests drain: a rotation step under way is ended now (its command may call
  // back), not left to run on after the server has stopped.
  keyed.StopRotation();
  (*server)->Shutdown(std::chrono::seconds(10));
  flusher->Stop();
  if (Status st = opened->service->ReleaseReservedCredits(0); !st.ok()) {
    spdlog::warn("could not give back reserved credits: {}", st.message());
  }
  rotation->Stop();
  usage.Stop();  // its last flush may still detect something: queued, then raised
  alert_queue.Stop();
  keyed.Close();
  spdlog::info("stopped");
  return 0;
}

}  // namespace keyhold::server

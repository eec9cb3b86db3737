#include "server/settings.h"

#include <toml++/toml.h>

#include <CLI/CLI.hpp>
#include <cstdlib>

namespace keyhold::server {

std::vector<Setting> ServeSettingTable() {
  return {
      {"data_dir", "KEYHOLD_DATA_DIR", "./data",
       "directory holding the database and master key (created with mode 0700)"},
      {"listen", "KEYHOLD_LISTEN", "127.0.0.1:8080",
       "HOST:PORT to serve on (port 0: any free port)"},
      {"threads", "KEYHOLD_THREADS", "2", "number of I/O threads serving requests"},
      {"workers", "KEYHOLD_WORKERS", "64",
       "threads for requests that wait on the disk (writes), so I/O threads keep verifying; "
       "credit spends waiting together are made durable by one sync"},
      {"max_connections", "KEYHOLD_MAX_CONNECTIONS", "auto",
       "open connections at most; past it a new one is answered 503 and closed (auto: the "
       "open-file limit less 64)"},
      {"read_timeout", "KEYHOLD_READ_TIMEOUT", "30s",
       "the most a request may take from its first byte to its last, and a response to be read "
       "(e.g. 30s, 500ms); past it: 408"},
      {"idle_timeout", "KEYHOLD_IDLE_TIMEOUT", "10s",
       "how long an open connection may wait for its next request before it is closed"},
      {"trusted_proxies", "KEYHOLD_TRUSTED_PROXIES", "",
       "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client address"},
      {"tls_cert", "KEYHOLD_TLS_CERT", "", "PEM certificate chain; with --tls-key serves HTTPS"},
      {"tls_key", "KEYHOLD_TLS_KEY", "", "PEM private key for --tls-cert"},
      {"master_key_file", "KEYHOLD_MASTER_KEY_FILE", "",
       "master key file (mode 0600, owned by this user); default DATA_DIR/master.key"},
      {"log_level", "KEYHOLD_LOG_LEVEL", "info", "trace, debug, info, warn, error or off"},
      {"access_log", "KEYHOLD_ACCESS_LOG", "true", "log one line per request (never bodies)"},
      {"usage_recording", "KEYHOLD_USAGE_RECORDING", "true",
       "count every verification for analytics and anomaly detection (false: neither)"},
      {"metrics_access", "KEYHOLD_METRICS_ACCESS", "loopback",
       "who may read GET /metrics: loopback (clients connecting from this host), open (anyone), "
       "or root-key (a root key holding metrics.*.read)"},
      {"usage_flush_interval", "KEYHOLD_USAGE_FLUSH_INTERVAL", "1s",
       "how often recorded verifications are made durable (a crash loses at most this much usage)"},
      {"usage_retention", "KEYHOLD_USAGE_RETENTION", "7d",
       "how long usage rows and minute rollups are kept (hour rollups: at least 90d, "
       "day rollups: at least 730d)"},
      {"credits_low_threshold", "KEYHOLD_CREDITS_LOW_THRESHOLD", "10",
       "raise a key.credits_low alert when a verification takes a key's remaining credits below "
       "this (0: never)"},
      {"brute_force_threshold", "KEYHOLD_BRUTE_FORCE_THRESHOLD", "0",
       "failed verifications and /v1 token checks from one forwarded client address within the "
       "window after which it is answered RATE_LIMITED (on /v1: 429) for the cool-down; 0 "
       "(default): off. Turn on only where the forwarded addresses are end users' (see "
       "docs/architecture.md)"},
      {"brute_force_window", "KEYHOLD_BRUTE_FORCE_WINDOW", "1m",
       "window in which an address's failed verifications and token checks are counted"},
      {"brute_force_cooldown", "KEYHOLD_BRUTE_FORCE_COOLDOWN", "5m",
       "how long a blocked address is refused"},
      {"forward_auth_apis", "KEYHOLD_FORWARD_AUTH_APIS", "",
       "comma-separated API ids whose keys /forward-auth accepts; empty (default): /forward-auth "
       "is not served (docs/forward-auth.md)"},
      {"forward_auth_rules", "KEYHOLD_FORWARD_AUTH_RULES", "",
       "TOML file of /forward-auth route rules (method + path -> permissions, rate limits, "
       "credits); none: any valid key, 1 credit"},
      {"forward_auth_key_header", "KEYHOLD_FORWARD_AUTH_KEY_HEADER", "X-API-Key",
       "header /forward-auth reads a key from, besides Authorization: Bearer (none: only that)"},
      {"forward_auth_key_query", "KEYHOLD_FORWARD_AUTH_KEY_QUERY", "",
       "query parameter of the original URI /forward-auth reads a key from (empty, default: "
       "none; URLs end up in logs)"},
      {"forward_auth_proxy", "KEYHOLD_FORWARD_AUTH_PROXY", "auto",
       "which proxy's headers describe the original request: auto (any, refusing two that "
       "disagree), or only nginx's (X-Original-*), traefik's or caddy's (X-Forwarded-*), or "
       "envoy's (the path after /forward-auth)"},
      {"forward_auth_nginx_mode", "KEYHOLD_FORWARD_AUTH_NGINX_MODE", "false",
       "true: /forward-auth answers 429 and 400 as 403 with X-Keyhold-Status (nginx's "
       "auth_request turns other codes into 500)"},
      {"forward_auth_brute_force_threshold", "KEYHOLD_FORWARD_AUTH_BRUTE_FORCE_THRESHOLD", "20",
       "failed /forward-auth requests from one forwarded client address within "
       "brute_force_window after which it is answered 429 for brute_force_cooldown (0: off)"},
      {"leak_report_keys", "KEYHOLD_LEAK_REPORT_KEYS", "",
       "JSON file of the public keys code hosts sign leak reports with "
       "({\"public_keys\":[{\"key_identifier\",\"key\"}]}); set: POST /leak-reports is served "
       "(docs/leak-reports.md)"},
      {"anomaly_detection", "KEYHOLD_ANOMALY_DETECTION", "true",
       "run the anomaly detectors over usage (docs/anomalies.md)"},
      {"anomaly_spike_z", "KEYHOLD_ANOMALY_SPIKE_Z", "4",
       "deviations above its own baseline that make a key's minute hot"},
      {"anomaly_spike_min", "KEYHOLD_ANOMALY_SPIKE_MIN", "60",
       "verifications a minute below which no minute is hot"},
      {"anomaly_spike_minutes", "KEYHOLD_ANOMALY_SPIKE_MINUTES", "3",
       "hot minutes in a row that make a spike"},
      {"anomaly_baseline", "KEYHOLD_ANOMALY_BASELINE", "1h",
       "span of the moving baseline of a key's verifications per minute"},
      {"anomaly_warmup", "KEYHOLD_ANOMALY_WARMUP", "30m",
       "history a key needs before spikes are judged"},
      {"anomaly_network_learning", "KEYHOLD_ANOMALY_NETWORK_LEARNING", "24h",
       "networks a key is used from in its first this-long are learned without an alert"},
      {"anomaly_failed_window", "KEYHOLD_ANOMALY_FAILED_WINDOW", "1m",
       "window in which failed verifications are counted"},
      {"anomaly_failed_per_key", "KEYHOLD_ANOMALY_FAILED_PER_KEY", "20",
       "failed verifications of one key within the window that make a burst (0: off)"},
      {"anomaly_failed_per_address", "KEYHOLD_ANOMALY_FAILED_PER_ADDRESS", "20",
       "failed verifications from one client address (IPv6: its /64) within the window that make "
       "a burst (0: off)"},
      {"anomaly_sensitive_routes", "KEYHOLD_ANOMALY_SENSITIVE_ROUTES", "",
       "comma-separated route patterns ('*' any run, e.g. 'DELETE /admin/*') whose valid use is "
       "reported"},
      {"anomaly_sensitive_tags", "KEYHOLD_ANOMALY_SENSITIVE_TAGS", "",
       "comma-separated verification tag patterns (e.g. 'path=/billing*') whose valid use is "
       "reported"},
      {"anomaly_cooldown", "KEYHOLD_ANOMALY_COOLDOWN", "15m",
       "one report per detector and subject (key, address, network, route) within this long"},
      {"audit_checkpoint_interval", "KEYHOLD_AUDIT_CHECKPOINT_INTERVAL", "10m",
       "how often to sign a checkpoint of the audit log (stored, and logged for an outside copy) "
       "when it has grown (e.g. 10m, 1h)"},
      {"rotation_sweep_interval", "KEYHOLD_ROTATION_SWEEP_INTERVAL", "1m",
       "how often rotation policies are applied (key.rotation_due alerts, overdue expiry) and due "
       "secrets are looked for (secret.rotation_due alerts)"},
      {"secret_rotation_command", "KEYHOLD_SECRET_ROTATION_COMMAND", "",
       "absolute path of the command that performs the steps of a secret's rotation (run as "
       "COMMAND STEP MOUNT/PATH with a token for that path; docs/secrets.md); it must be owned "
       "by root or keyhold's user and writable by no one else, nor its directories; empty "
       "(default): none, rotations are driven by hand"},
      {"secret_rotation_webhook", "KEYHOLD_SECRET_ROTATION_WEBHOOK", "",
       "https URL (http only to loopback) each step of a secret's rotation is POSTed to instead "
       "of a command, signed per Standard Webhooks (docs/secrets.md); empty (default): none"},
      {"secret_rotation_webhook_secret_file", "KEYHOLD_SECRET_ROTATION_WEBHOOK_SECRET_FILE", "",
       "file holding the whsec_... secret that signs secret_rotation_webhook's requests"},
      {"secret_rotation_timeout", "KEYHOLD_SECRET_ROTATION_TIMEOUT", "30s",
       "how long one step of the rotation command (or webhook) may run before it is killed (or "
       "given up on) and the step fails"},
      {"secret_rotation_queue_limit", "KEYHOLD_SECRET_ROTATION_QUEUE_LIMIT", "32",
       "how many secret rotations may wait beyond the 2 running; past that secrets.rotate "
       "answers 429 rotation/queue_full"},
      {"secret_rotation_per_key_limit", "KEYHOLD_SECRET_ROTATION_PER_KEY_LIMIT", "4",
       "how many secret rotations one root key may have queued or running at once; past that "
       "secrets.rotate answers 429 rotation/caller_limit"},
      {"secret_rotation_remind_before", "KEYHOLD_SECRET_ROTATION_REMIND_BEFORE", "7d",
       "raise a secret.rotation_due alert this long before a secret falls due for rotation"},
      {"secret_rotation_remind_every", "KEYHOLD_SECRET_ROTATION_REMIND_EVERY", "1d",
       "once a secret is overdue for rotation, raise its secret.rotation_due alert again this "
       "often"},
      {"alert_dedupe_window", "KEYHOLD_ALERT_DEDUPE_WINDOW", "10m",
       "an alert whose dedupe key matches an unacknowledged one raised this recently is counted, "
       "not raised again"},
      {"alert_retention", "KEYHOLD_ALERT_RETENTION", "30d",
       "how long acknowledged alerts and finished webhook deliveries are kept"},
      {"webhook_max_attempts", "KEYHOLD_WEBHOOK_MAX_ATTEMPTS", "8",
       "attempts per webhook delivery before it is marked failed (1 to 100)"},
      {"webhook_max_age", "KEYHOLD_WEBHOOK_MAX_AGE", "24h",
       "a webhook delivery not made within this long of its alert is marked failed"},
      {"webhook_backoff_base", "KEYHOLD_WEBHOOK_BACKOFF_BASE", "5s",
       "wait before the second attempt at most; doubles per attempt, with full jitter"},
      {"webhook_backoff_cap", "KEYHOLD_WEBHOOK_BACKOFF_CAP", "1h",
       "the longest wait between two attempts"},
      {"webhook_timeout", "KEYHOLD_WEBHOOK_TIMEOUT", "10s",
       "how long a webhook attempt may take to connect, and then to be answered"},
      {"webhook_secret_grace", "KEYHOLD_WEBHOOK_SECRET_GRACE", "24h",
       "how long a rotated-out webhook signing secret keeps signing beside the new one"},
      {"webhook_allow_private_networks", "KEYHOLD_WEBHOOK_ALLOW_PRIVATE_NETWORKS", "false",
       "true: webhooks may go to loopback, private, link-local and metadata addresses (refused "
       "otherwise, checked on the resolved address)"},
  };
}

StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  size_t digits = text.find_first_not_of("0123456789");
  std::string_view number = text.substr(0, digits);
  std::string_view unit = digits == std::string_view::npos ? "" : text.substr(digits);
  if (number.empty() || number.size() > 9) {
    return InvalidArgument("'" + std::string(text) + "' is not a duration such as 30s or 500ms");
  }
  int64_t n = std::stoll(std::string(number));
  using std::chrono::milliseconds;
  if (unit == "ms") return milliseconds(n);
  if (unit == "s" || unit.empty()) return milliseconds(std::chrono::seconds(n));
  if (unit == "m") return milliseconds(std::chrono::minutes(n));
  if (unit == "h") return milliseconds(std::chrono::hours(n));
  if (unit == "d") return milliseconds(std::chrono::hours(24 * n));
  return InvalidArgument("'" + std::string(text) + "' has an unknown unit: use ms, s, m, h or d");
}

static std::string FlagName(const std::string& name) {
  std::string f = "--" + name;
  for (char& c : f) {
    if (c == '_') c = '-';
  }
  return f;
}

void Settings::AddTo(CLI::App& app) {
  for (const Setting& s : table_) {
    std::string help = s.help + " [env " + s.env + ", toml " + s.name +
                       (s.default_value.empty() ? "" : ", default " + s.default_value) + "]";
    app.add_option(FlagName(s.name), flag_values_[s.name], help);
  }
}

Status Settings::Resolve(const std::string& toml_path) {
  std::vector<Problem> problems = ResolveAll(toml_path);
  if (problems.empty()) return OkStatus();
  return InvalidArgument("config file " + toml_path + ", line " +
                         std::to_string(problems.front().line) + ": " + problems.front().message);
}

std::vector<Settings::Problem> Settings::ResolveAll(const std::string& toml_path) {
  std::vector<Problem> problems;
  toml_path_ = toml_path;
  lines_.clear();
  toml::table file;
  if (!toml_path.empty()) {
    try {
      file = toml::parse_file(toml_path);
    } catch (const toml::parse_error& e) {
      problems.push_back({e.source().begin.line, std::string(e.description())});
      file = toml::table();
    }
    for (const auto& entry : file) {
      const toml::key& key = entry.first;
      bool known = std::any_of(table_.begin(), table_.end(),
                               [&](const Setting& s) { return s.name == key.str(); });
      if (!known) {
        problems.push_back(
            {key.source().begin.line, "unknown setting '" + std::string(key.str()) + "'"});
      } else {
        lines_[std::string(key.str())] = key.source().begin.line;
      }
    }
  }
  for (const Setting& s : table_) {
    values_[s.name] = s.default_value;
    sources_[s.name] = "default";
    if (!flag_values_[s.name].empty()) {
      values_[s.name] = flag_values_[s.name];
      sources_[s.name] = "flag";
    } else if (const char* env = std::getenv(s.env.c_str()); env && *env) {
      values_[s.name] = env;
      sources_[s.name] = "env";
    } else if (auto node = file[s.name]; node) {
      // By type, booleans first: value<int64_t>() would also read `true` (as 1).
      if (node.is_boolean()) {
        values_[s.name] = node.value<bool>().value_or(false) ? "true" : "false";
      } else if (node.is_integer()) {
        values_[s.name] = std::to_string(node.value<int64_t>().value_or(0));
      } else if (node.is_string()) {
        values_[s.name] = node.value<std::string>().value_or("");
      } else {
        problems.push_back({lines_[s.name], s.name + " must be a string, integer or boolean"});
        continue;
      }
      sources_[s.name] = "file";
    }
  }
  return problems;
}

std::string Settings::Origin(const std::string& name) const {
  const std::string& source = sources_.at(name);
  if (source == "file") return toml_path_ + ":" + std::to_string(lines_.at(name));
  for (const Setting& s : table_) {
    if (s.name != name) continue;
    if (source == "env") return s.env;
    if (source == "flag") return FlagName(s.name);
  }
  return name + " (default)";
}

Settings Settings::Isolated(const std::string& name) const {
  Settings copy(table_);
  for (const Setting& s : table_) {
    copy.values_[s.name] = s.name == name ? values_.at(s.name) : s.default_value;
    copy.sources_[s.name] = s.name == name ? sources_.at(s.name) : "default";
  }
  copy.toml_path_ = toml_path_;
  copy.lines_ = lines_;
  return copy;
}

}  // namespace keyhold::server

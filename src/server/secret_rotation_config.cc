#include "server/secret_rotation_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "server/rotation_webhook.h"

namespace keyhold::server {

namespace {

// The most a rotation queue limit may be set to: each waiting rotation holds a little memory.
constexpr int kMaxRotationLimit = 10'000;

// The webhook settings, if a webhook is configured: its URL and the signing secret from its file.
Status ReadWebhook(const Settings& settings, SecretRotationSettings& s) {
  const std::string& url = settings.Get("secret_rotation_webhook");
  s.allow_private_networks = settings.Get("webhook_allow_private_networks") == "true";
  if (url.empty()) return OkStatus();
  auto parsed = audit::ParseWebhookUrl(url);
  if (!parsed.ok()) {
    return InvalidArgument("secret_rotation_webhook: " + parsed.status().message());
  }
  // The request carries a token that reads the secret and writes its next value: only over TLS,
  // unless it stays on this machine.
  const std::string& host = parsed->host;
  const bool loopback =
      host == "localhost" || host.starts_with("127.") || host == "::1" || host == "[::1]";
  if (!parsed->tls && !loopback) {
    return InvalidArgument(
        "secret_rotation_webhook: use https (the request carries a token for the secret); plain "
        "http only to a loopback address");
  }
  s.webhook = *parsed;
  const std::string& file = settings.Get("secret_rotation_webhook_secret_file");
  if (file.empty()) return OkStatus();  // CheckSecretRotationPairs reports it
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (!in || !audit::ParseWebhookSecret(secret, &s.webhook_key)) {
    return InvalidArgument("secret_rotation_webhook_secret_file: " + file +
                           " does not hold a webhook signing secret (whsec_...)");
  }
  return OkStatus();
}

// "owned by uid N" unless `st` is owned by root or `self`; "" when it is.
std::string ForeignOwner(const struct stat& st, uid_t self) {
  if (st.st_uid == 0 || st.st_uid == self) return "";
  return "it is owned by uid " + std::to_string(st.st_uid) + ", neither root nor keyhold's uid " +
         std::to_string(self);
}

}  // namespace

Status CheckCommandFile(const std::string& path, uid_t self) {
  return ResolveCommandFile(path, self).status();
}

StatusOr<std::string> ResolveCommandFile(const std::string& path, uid_t self) {
  auto refuse = [](const std::string& what, const std::string& why) {
    return InvalidArgument("secret_rotation_command: " + what + ": " + why +
                           " (a command others can change would run with keyhold's tokens)");
  };
  char resolved_buf[PATH_MAX];
  if (realpath(path.c_str(), resolved_buf) == nullptr) {
    return InvalidArgument("secret_rotation_command: " + path + ": " + std::strerror(errno));
  }
  const std::string resolved = resolved_buf;
  const std::string named = resolved == path ? path : path + " (" + resolved + ")";
  struct stat st {};
  if (stat(resolved.c_str(), &st) != 0) {
    return InvalidArgument("secret_rotation_command: " + named + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return refuse(named, "it is not a regular file");
  if (std::string owner = ForeignOwner(st, self); !owner.empty()) return refuse(named, owner);
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return refuse(named, "it is writable by group or others (chmod go-w)");
  }
  if (access(resolved.c_str(), X_OK) != 0) {
    return InvalidArgument("secret_rotation_command: " + named + " is not executable by keyhold");
  }
  // Every directory above it: whoever may write one may put another file in its place.
  std::string dir = resolved;
  while (dir.size() > 1) {
    dir = dir.substr(0, std::max<size_t>(dir.rfind('/'), 1));
    if (stat(dir.c_str(), &st) != 0) {
      return InvalidArgument("secret_rotation_command: " + dir + ": " + std::strerror(errno));
    }
    if (std::string owner = ForeignOwner(st, self); !owner.empty()) {
      return refuse("its directory " + dir, owner);
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
      return refuse("its directory " + dir, "it is writable by group or others and not sticky");
    }
  }
  return resolved;
}

std::unique_ptr<service::CommandDriver> MakeCommandDriver(const SecretRotationSettings& s,
                                                          std::function<std::string()> address) {
  const std::string command = s.command;
  auto check = [command]() -> Status {
    auto now = ResolveCommandFile(command, geteuid());
    if (!now.ok()) return now.status();
    if (*now != command) {
      return InvalidArgument("secret_rotation_command: " + command +
                             " now resolves to another file (" + *now + ")");
    }
    return OkStatus();
  };
  return std::make_unique<service::CommandDriver>(
      service::CommandOptions{.command = command,
                              .timeout_ms = s.timeout_ms,
                              .address = std::move(address),
                              .check = std::move(check)});
}

StatusOr<SecretRotationSettings> ReadSecretRotationSettings(const Settings& settings) {
  SecretRotationSettings s;
  s.command = settings.Get("secret_rotation_command");
  if (!s.command.empty() && !s.command.starts_with('/')) {
    return InvalidArgument("secret_rotation_command must be an absolute path");
  }
  if (!s.command.empty()) {
    KH_ASSIGN_OR_RETURN(s.command, ResolveCommandFile(s.command, geteuid()));
  }
  const std::pair<const char*, int64_t*> durations[] = {
      {"secret_rotation_timeout", &s.timeout_ms},
      {"secret_rotation_remind_before", &s.options.remind_before_ms},
      {"secret_rotation_remind_every", &s.options.remind_every_ms}};
  for (const auto& [name, field] : durations) {
    auto d = ParseDuration(settings.Get(name));
    if (!d.ok()) return InvalidArgument(std::string(name) + ": " + d.status().message());
    if (d->count() < 1) return InvalidArgument(std::string(name) + " must be at least 1ms");
    *field = d->count();
  }
  const std::pair<const char*, int*> limits[] = {
      {"secret_rotation_queue_limit", &s.options.queue_limit},
      {"secret_rotation_per_key_limit", &s.options.per_caller_limit}};
  for (const auto& [name, field] : limits) {
    const std::string& text = settings.Get(name);
    int value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 1 ||
        value > kMaxRotationLimit) {
      return InvalidArgument(std::string(name) + " must be a whole number from 1 to " +
                             std::to_string(kMaxRotationLimit));
    }
    *field = value;
  }
  KH_RETURN_IF_ERROR(ReadWebhook(settings, s));
  // The token outlives the step a little, for a command that is slow to exit after its last call.
  s.options.token_ttl_ms = s.timeout_ms + 5'000;
  return s;
}

Status CheckSecretRotationPairs(const Settings& settings) {
  const bool webhook = !settings.Get("secret_rotation_webhook").empty();
  if (webhook && !settings.Get("secret_rotation_command").empty()) {
    return InvalidArgument(
        "secret_rotation_webhook: set either secret_rotation_command or secret_rotation_webhook");
  }
  if (webhook && settings.Get("secret_rotation_webhook_secret_file").empty()) {
    return InvalidArgument(
        "secret_rotation_webhook: name the file holding its signing secret "
        "(secret_rotation_webhook_secret_file)");
  }
  return OkStatus();
}

std::string CommandAddress(bool tls, const std::string& bound) {
  std::string host = bound.substr(0, bound.rfind(':'));
  std::string port = bound.substr(bound.rfind(':') + 1);
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::" || host == "[::]") host = "[::1]";
  return std::string(tls ? "https://" : "http://") + host + ":" + port;
}

SecretRotation::SecretRotation(const SecretRotationSettings& s, service::SecretService& secrets,
                               store::Store& store, Env& env, audit::AlertSink* alerts) {
  auto address = [this] {
    std::lock_guard lock(mu_);
    return address_;
  };
  if (!s.command.empty()) {
    driver_ = MakeCommandDriver(s, address);
  } else if (s.webhook) {
    driver_ = std::make_unique<WebhookDriver>(
        env, RotationWebhookOptions{.url = *s.webhook,
                                    .key = s.webhook_key,
                                    .timeout_ms = s.timeout_ms,
                                    .token_ttl_ms = s.options.token_ttl_ms,
                                    .allow_private_networks = s.allow_private_networks,
                                    .address = address,
                                    .sender = nullptr});
  }
  rotator_ = std::make_unique<service::SecretRotator>(secrets, store, env, alerts, driver_.get(),
                                                      s.options);
}

void SecretRotation::SetAddress(std::string address) {
  std::lock_guard lock(mu_);
  address_ = std::move(address);
}

}  // namespace keyhold::server

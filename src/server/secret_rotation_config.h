// The configuration of secret rotation (settings secret_rotation_*) and the parts the server
// runs it with: the command driver, if one is configured, and the rotator.
//
//   KH_ASSIGN_OR_RETURN(SecretRotationSettings s, ReadSecretRotationSettings(settings));
//   SecretRotation rotation(s, secrets, store, env, &alerts);
//   rotation.SetAddress("http://127.0.0.1:8080");  // once the listener is bound
//
// Only the operator chooses what runs: the command comes from the server's configuration (file,
// flag or environment), never from a request.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/webhook.h"
#include "core/status.h"
#include "server/settings.h"
#include "service/rotation_command.h"
#include "service/secret_rotation.h"

namespace keyhold::server {

struct SecretRotationSettings {
  // "" for none. The configured path with its symbolic links resolved once, at start: that file
  // is what runs, so a link re-pointed later changes nothing.
  std::string command;
  // Or a webhook (never both): its URL and signing key.
  std::optional<audit::WebhookUrl> webhook;
  std::vector<uint8_t> webhook_key;
  bool allow_private_networks = false;
  service::RotationOptions options;
  int64_t timeout_ms = 30'000;
};

// Errors: kInvalidArgument naming the setting (a duration that does not parse or is 0, a
// command that is not an absolute path or fails CheckCommandFile, a webhook URL that does not
// parse, a secret file that does not hold a "whsec_…" secret).
StatusOr<SecretRotationSettings> ReadSecretRotationSettings(const Settings& settings);

// Whether the rotation command at `path` is safe to run, as sshd and sudo judge their helpers:
// after resolving symbolic links it must be a regular file that the server (`self`, its
// effective uid) may execute, owned by root or by `self` and writable by neither group nor
// others; and each directory above it must be owned by root or `self` and not writable by group
// or others, unless it is sticky (as /tmp is: no one else can replace the file there). Errors:
// kInvalidArgument naming the file or directory and what is wrong.
Status CheckCommandFile(const std::string& path, uid_t self);
// As CheckCommandFile, answering the path with its symbolic links resolved.
StatusOr<std::string> ResolveCommandFile(const std::string& path, uid_t self);

// The driver that runs `s.command` (which must be set): before each run it checks the file again
// (CheckCommandFile, and that its path still resolves to itself) and refuses the step if it has
// become unsafe since start.
std::unique_ptr<service::CommandDriver> MakeCommandDriver(const SecretRotationSettings& s,
                                                          std::function<std::string()> address);

// The settings that go together: a command or a webhook, not both; a webhook with its secret
// file. Errors: kInvalidArgument naming the setting.
Status CheckSecretRotationPairs(const Settings& settings);

// The address a command reaches keyhold at, from the listener's bound address: a wildcard host
// becomes the loopback address.
std::string CommandAddress(bool tls, const std::string& bound);

class SecretRotation {
 public:
  SecretRotation(const SecretRotationSettings& s, service::SecretService& secrets,
                 store::Store& store, Env& env, audit::AlertSink* alerts);
  service::SecretRotator& rotator() { return *rotator_; }
  void SetAddress(std::string address);

 private:
  std::mutex mu_;
  std::string address_;  // guarded by mu_
  std::unique_ptr<service::RotationDriver> driver_;
  std::unique_ptr<service::SecretRotator> rotator_;
};

}  // namespace keyhold::server

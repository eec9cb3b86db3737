// Webhooks as the Standard Webhooks specification (standardwebhooks.com) has them: secrets,
// signatures, and when to try a failed delivery again; plus which addresses a delivery may not
// reach. Pure functions, no I/O.
//
//   WebhookSecret s = NewWebhookSecret(env);                 // "whsec_" + base64(24 bytes)
//   std::string sig = SignWebhook(s.key, msg_id, ts, body);  // "v1,<base64>"
//   int64_t wait = BackoffDelayMs(attempt, base, cap, random_fraction);
//   if (IsForbiddenWebhookAddress(ip)) -> refuse to connect
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "crypto/crypto.h"

namespace keyhold::audit {

inline constexpr std::string_view kWebhookSecretPrefix = "whsec_";
inline constexpr size_t kWebhookSecretBytes = 24;

// A freshly made signing secret: its text, shown to the operator once, and its key bytes.
struct WebhookSecret {
  std::string text;          // "whsec_<base64 of key>"
  std::vector<uint8_t> key;  // what signatures are made with
};
WebhookSecret NewWebhookSecret(Env& env);
// The key bytes of a "whsec_..." text (the prefix is optional, as receivers accept it bare).
// False if the rest is not base64 of at least 16 bytes.
bool ParseWebhookSecret(std::string_view text, std::vector<uint8_t>* key);

// "v1,<base64 HMAC-SHA256(key, msg_id + "." + timestamp + "." + body)>".
std::string SignWebhook(std::span<const uint8_t> key, std::string_view msg_id, int64_t timestamp_s,
                        std::string_view body);

// The key that encrypts webhook signing secrets at rest: HMAC-SHA256 of a fixed label under the
// 32-byte master key, as the audit checkpoint key is derived (audit/checkpoint.h), with a label
// of its own.
crypto::Sha256Digest WebhookSecretKey(std::span<const uint8_t> master_key);

// A signing secret's key sealed for storage under `storage_key` (WebhookSecretKey), bound to the
// endpoint `endpoint_id` so a sealed value copied to another endpoint does not open.
std::vector<uint8_t> SealWebhookSecret(std::span<const uint8_t> storage_key, Env& env,
                                       std::string_view endpoint_id,
                                       std::span<const uint8_t> secret_key);
// The key SealWebhookSecret sealed; false if `sealed` was not sealed for `endpoint_id` under
// `storage_key`.
bool OpenWebhookSecret(std::span<const uint8_t> storage_key, std::span<const uint8_t> sealed,
                       std::string_view endpoint_id, std::vector<uint8_t>* secret_key);

// A webhook URL taken apart: http or https, a host (name or address, without brackets), a port
// and the request target.
struct WebhookUrl {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path and query, at least "/"
};
// Errors: kInvalidArgument if `url` is not an absolute http(s) URL with a host, has user
// information or a fragment, or is longer than 2048 bytes.
StatusOr<WebhookUrl> ParseWebhookUrl(std::string_view url);

// How long to wait before attempt `attempt` + 1 after `attempt` (>= 1) failed: exponential backoff
// with full jitter, `random_fraction` (in [0, 1)) of min(cap, base * 2^(attempt - 1)).
int64_t BackoffDelayMs(int attempt, int64_t base_ms, int64_t cap_ms, double random_fraction);

// True for an address a webhook may not reach unless private networks are allowed: loopback,
// link-local (which holds cloud metadata services), private, carrier-grade NAT, unique-local,
// unspecified, multicast and reserved ranges, and the same inside IPv4-mapped or NAT64 IPv6.
// `address` is an IP address in text; anything unparsable is forbidden.
bool IsForbiddenWebhookAddress(std::string_view address);

}  // namespace keyhold::audit

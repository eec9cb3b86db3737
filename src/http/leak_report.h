// LeakReportSurface: `POST /leak-reports`, where a code host that scans public code for secrets
// sends the keyhold keys it found — the secret-scanning partner shape GitHub uses:
//
//   POST /leak-reports
//   Github-Public-Key-Identifier: <the id of the key that signed the body>
//   Github-Public-Key-Signature:  <base64 of the ECDSA P-256 / SHA-256 signature of the raw body>
//   [{"token":"hd_3ZH…","type":"keyhold_api_key","url":"https://…","source":"content"}]
//
// No root key: the signature is the credential. Each token is acted on as keys.reportLeak would
// (revoked, or disabled where its API says so, an audit entry and a key.leaked alert), and the
// answer is the same whatever the tokens were — {"received":N} — so a report says nothing about
// which tokens are keyhold's. A report acted on in the last 24 hours that is sent again is
// answered alike and not acted on again (RecentReports); sent again while it is still being acted
// on, it is answered 503 with Retry-After, as the first delivery may yet fail. Unsigned, wrongly
// signed or malformed reports change nothing: 401 or 400, checked for the whole report before any
// token is acted on.
//
// The public keys come from an operator's file in the shape code hosts publish them
// ({"public_keys":[{"key_identifier":"…","key":"<PEM>","is_current":true}]}); it is read again
// when it changes, so a rotated key is taken up without a restart.
#pragma once

#include <array>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "crypto/ecdsa.h"
#include "http/router.h"

namespace keyhold::service {
class KeyService;
}

namespace keyhold::http {

inline constexpr std::string_view kLeakReportPath = "/leak-reports";
// Tokens in one report at most: past it the report is refused whole (413), not half acted on.
inline constexpr size_t kMaxLeakReportTokens = 1000;

// The public keys reports may be signed with, by identifier.
class LeakReportKeys {
 public:
  // Errors: kInvalidArgument naming what is wrong (not JSON, no "public_keys" array, an entry
  // without an identifier, a key that is not ECDSA P-256 PEM, an identifier given twice).
  static StatusOr<LeakReportKeys> Parse(std::string_view json_text);

  const crypto::EcdsaP256PublicKey* Find(std::string_view identifier) const;
  size_t size() const { return keys_.size(); }

 private:
  std::map<std::string, crypto::EcdsaP256PublicKey, std::less<>> keys_;
};

// The keys file, re-read when its size, time or inode changes (looked at most once a second). A
// change that does not parse keeps the keys read before, and is logged.
class LeakReportKeyFile {
 public:
  // Errors: kNotFound if the file cannot be read; as LeakReportKeys::Parse.
  static StatusOr<std::unique_ptr<LeakReportKeyFile>> Open(std::string path);
  std::shared_ptr<const LeakReportKeys> Current();

 private:
  explicit LeakReportKeyFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
  std::mutex mu_;
  std::shared_ptr<const LeakReportKeys> keys_;
  std::string stamp_;  // size, mtime and inode when keys_ was read
  std::chrono::steady_clock::time_point checked_;
};

struct LeakReportItem {
  std::string token;
  std::string type;
  std::string url;
  std::string source;
};

// Reads a report body: a JSON array of {token, type?, url?, source?} objects (other members
// ignored). Errors: kInvalidArgument saying what is wrong; kResourceExhausted for more than
// kMaxLeakReportTokens tokens.
StatusOr<std::vector<LeakReportItem>> ParseLeakReport(std::string_view body);

// What keyhold records as where a reported key was found: the host's source and URL, never the
// token (a URL that holds it is left out; empty if the token is part of the words themselves),
// at most 1024 bytes.
std::string LeakReportSource(const LeakReportItem& item);

// The reports acted on lately, by the SHA-256 of their body: a signed report sent again (a
// replay, or a host's retry of a report already acted on) is answered without acting on it again.
// Bounded: at most `capacity` bodies, each for `ttl`; past the capacity the oldest is forgotten
// first. Thread-safe.
class RecentReports {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kDefaultCapacity = 10'000;
  static constexpr std::chrono::hours kDefaultTtl{24};

  explicit RecentReports(size_t capacity = kDefaultCapacity, Clock::duration ttl = kDefaultTtl)
      : capacity_(capacity), ttl_(ttl) {}
  enum class Claimed {
    kNew,       // not remembered (or no longer): remembered from `now`, in flight; act on it
    kInFlight,  // claimed by a report still being acted on, which may yet fail
    kDone,      // acted on in full within the ttl
  };
  Claimed Claim(std::string_view body, Clock::time_point now);
  // Marks a claimed body as acted on in full: it is answered alike from then on.
  void Finish(std::string_view body);
  // Forgets a claimed body (its report could not be acted on in full: a retry acts again).
  void Release(std::string_view body);
  size_t size();

 private:
  using Digest = std::array<uint8_t, 32>;
  void ExpireLocked(Clock::time_point now);  // REQUIRES: mu_ held
  void PopOldestLocked();                    // REQUIRES: mu_ held, order_ not empty
  const size_t capacity_;
  const Clock::duration ttl_;
  std::mutex mu_;
  struct Seen {
    Clock::time_point at;
    bool done = false;
  };
  std::map<Digest, Seen> seen_;                             // guarded by mu_
  std::deque<std::pair<Clock::time_point, Digest>> order_;  // oldest first; guarded by mu_
};

class LeakReportSurface final : public Surface {
 public:
  // Both must outlive the surface.
  LeakReportSurface(service::KeyService& keys, LeakReportKeyFile& key_file)
      : keys_(keys), key_file_(key_file) {}

  HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) override;
  HttpResponse Error(const RequestContext& ctx, int status, std::string_view reason,
                     std::string_view detail) const override {
    return PlainJsonError(ctx, status, reason, detail);
  }
  std::string_view Name() const override { return "leak_report"; }
  std::vector<std::string_view> Routes() const override { return {kLeakReportPath}; }
  int RouteIndex(std::string_view path) const override { return path == kLeakReportPath ? 0 : -1; }

 private:
  service::KeyService& keys_;
  LeakReportKeyFile& key_file_;
  RecentReports recent_;
};

}  // namespace keyhold::http

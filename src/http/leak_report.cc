#include "http/leak_report.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crypto/crypto.h"
#include "http/json_response.h"
#include "http/unkey/wire.h"
#include "service/key_service.h"

namespace keyhold::http {

using nlohmann::json;

namespace {

constexpr int kMaxJsonDepth = 8;
constexpr size_t kMaxTokenText = 512;  // as keys.reportLeak's `key`
constexpr size_t kMaxItemField = 2048;
constexpr size_t kMaxKeysFile = 1 << 20;
constexpr size_t kMaxSource = 1024;  // as keys.reportLeak's `source`

// "<size>:<mtime ns>:<inode>", or empty if the file cannot be looked at.
std::string FileStamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ino);
}

StatusOr<std::string> ReadKeysFile(const std::string& path) {
  // Non-blocking, and only a regular file: a FIFO or a device put there must not hold a worker
  // (and the reload lock) forever.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return NotFound("cannot read the leak report keys file " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument("the leak report keys file " + path + " is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxKeysFile) {
    ::close(fd);
    return InvalidArgument("the leak report keys file " + path + " is larger than 1 MiB");
  }
  std::string text(kMaxKeysFile + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  if (text.size() > kMaxKeysFile) {
    return InvalidArgument("the leak report keys file " + path + " is larger than 1 MiB");
  }
  return text;
}

// Printable ASCII only: what goes into a record and an alert must not carry control characters.
bool Printable(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

}  // namespace

StatusOr<LeakReportKeys> LeakReportKeys::Parse(std::string_view json_text) {
  if (unkey::JsonDepthExceeds(json_text, kMaxJsonDepth)) {
    return InvalidArgument("the leak report keys are nested too deeply to be a key list");
  }
  bool duplicate = false;
  json doc = unkey::ParseJsonStrict(json_text, &duplicate);
  if (doc.is_discarded()) return InvalidArgument("the leak report keys are not JSON");
  if (!doc.is_object() || !doc.contains("public_keys") || !doc["public_keys"].is_array()) {
    return InvalidArgument(
        R"(the leak report keys must be {"public_keys":[{"key_identifier":…,"key":…}]})");
  }
  LeakReportKeys out;
  size_t i = 0;
  for (const json& entry : doc["public_keys"]) {
    const std::string where = "public_keys[" + std::to_string(i++) + "]";
    if (!entry.is_object() || !entry.contains("key_identifier") ||
        !entry["key_identifier"].is_string() || !entry.contains("key") ||
        !entry["key"].is_string()) {
      return InvalidArgument(where + " needs a string key_identifier and a string key");
    }
    const std::string id = entry["key_identifier"].get<std::string>();
    if (id.empty() || id.size() > 256 || !Printable(id)) {
      return InvalidArgument(where + ": key_identifier must be 1 to 256 printable characters");
    }
    auto key = crypto::EcdsaP256PublicKey::FromPem(entry["key"].get<std::string>());
    if (!key.ok()) return InvalidArgument(where + ": " + key.status().message());
    if (!out.keys_.emplace(id, std::move(key).value()).second) {
      std::string message = where;
      message += ": key_identifier ";
      message += id;
      message += " is given twice";
      return InvalidArgument(std::move(message));
    }
  }
  return out;
}

const crypto::EcdsaP256PublicKey* LeakReportKeys::Find(std::string_view identifier) const {
  auto it = keys_.find(identifier);
  return it == keys_.end() ? nullptr : &it->second;
}

StatusOr<std::unique_ptr<LeakReportKeyFile>> LeakReportKeyFile::Open(std::string path) {
  std::unique_ptr<LeakReportKeyFile> file(new LeakReportKeyFile(std::move(path)));
  file->stamp_ = FileStamp(file->path_);
  KH_ASSIGN_OR_RETURN(std::string text, ReadKeysFile(file->path_));
  auto keys = LeakReportKeys::Parse(text);
  if (!keys.ok()) return InvalidArgument(file->path_ + ": " + keys.status().message());
  file->keys_ = std::make_shared<const LeakReportKeys>(std::move(keys).value());
  file->checked_ = std::chrono::steady_clock::now();
  return file;
}

std::shared_ptr<const LeakReportKeys> LeakReportKeyFile::Current() {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - checked_ < std::chrono::seconds(1)) return keys_;
  checked_ = now;
  std::string stamp = FileStamp(path_);
  if (stamp.empty() || stamp == stamp_) return keys_;
  stamp_ = stamp;
  auto text = ReadKeysFile(path_);
  auto keys = text.ok() ? LeakReportKeys::Parse(*text) : StatusOr<LeakReportKeys>(text.status());
  if (!keys.ok()) {
    spdlog::error("leak reports: {} changed but cannot be used ({}); the keys read before stay",
                  path_, keys.status().message());
    return keys_;
  }
  spdlog::info("leak reports: {} public key(s) read again from {}", keys->size(), path_);
  keys_ = std::make_shared<const LeakReportKeys>(std::move(keys).value());
  return keys_;
}

StatusOr<std::vector<LeakReportItem>> ParseLeakReport(std::string_view body) {
  if (unkey::JsonDepthExceeds(body, kMaxJsonDepth)) {
    return InvalidArgument("the report is nested too deeply");
  }
  bool duplicate = false;
  json doc = unkey::ParseJsonStrict(body, &duplicate);
  if (doc.is_discarded()) {
    return InvalidArgument(duplicate ? "the report names a member twice in one object"
                                     : "the report is not JSON");
  }
  if (!doc.is_array()) return InvalidArgument("the report must be a JSON array of matches");
  if (doc.size() > kMaxLeakReportTokens) {
    return Status(StatusCode::kResourceExhausted, "leak_report/too_many_tokens",
                  "a report holds at most " + std::to_string(kMaxLeakReportTokens) +
                      " tokens; send the rest in another");
  }
  std::vector<LeakReportItem> items;
  items.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    const json& m = doc[i];
    const std::string where = "match " + std::to_string(i);
    if (!m.is_object()) return InvalidArgument(where + " is not an object");
    LeakReportItem item;
    if (!m.contains("token") || !m["token"].is_string()) {
      return InvalidArgument(where + " has no string token");
    }
    item.token = m["token"].get<std::string>();
    if (item.token.empty() || item.token.size() > kMaxTokenText) {
      return InvalidArgument(where + ": token must be 1 to 512 characters");
    }
    for (auto [name, field] : {std::pair{"type", &item.type}, std::pair{"url", &item.url},
                               std::pair{"source", &item.source}}) {
      if (!m.contains(name) || m[name].is_null()) continue;
      if (!m[name].is_string() || m[name].get_ref<const std::string&>().size() > kMaxItemField) {
        return InvalidArgument(where + ": " + name + " must be a string of at most 2048 bytes");
      }
      *field = m[name].get<std::string>();
    }
    items.push_back(std::move(item));
  }
  return items;
}

std::string LeakReportSource(const LeakReportItem& item) {
  std::string out = "reported by a code host";
  auto fits = [&](const std::string& s) {
    return !s.empty() && Printable(s) && s.find(item.token) == std::string::npos;
  };
  if (fits(item.source) && item.source.size() <= 64) out += " (" + item.source + ")";
  if (fits(item.url) && out.size() + 2 + item.url.size() <= kMaxSource) out += ": " + item.url;
  // A token that is part of these words ("code", "host", "y") would be held by them: no source.
  if (out.find(item.token) != std::string::npos) return "";
  return out;
}

RecentReports::Claimed RecentReports::Claim(std::string_view body, Clock::time_point now) {
  const Digest d = crypto::Sha256(body);
  std::lock_guard lock(mu_);
  ExpireLocked(now);
  if (auto it = seen_.find(d); it != seen_.end()) {
    return it->second.done ? Claimed::kDone : Claimed::kInFlight;
  }
  while (!order_.empty() && seen_.size() >= capacity_) PopOldestLocked();
  seen_.emplace(d, Seen{.at = now});
  order_.emplace_back(now, d);
  return Claimed::kNew;
}

void RecentReports::Finish(std::string_view body) {
  const Digest d = crypto::Sha256(body);
  std::lock_guard lock(mu_);
  if (auto it = seen_.find(d); it != seen_.end()) it->second.done = true;
}

void RecentReports::Release(std::string_view body) {
  const Digest d = crypto::Sha256(body);
  std::lock_guard lock(mu_);
  seen_.erase(d);  // its entry in order_ goes when it expires (it names nothing in seen_ then)
}

size_t RecentReports::size() {
  std::lock_guard lock(mu_);
  return seen_.size();
}

void RecentReports::PopOldestLocked() {
  auto it = seen_.find(order_.front().second);
  // Only the entry this one made: a body released and claimed again has a later one.
  if (it != seen_.end() && it->second.at == order_.front().first) seen_.erase(it);
  order_.pop_front();
}

void RecentReports::ExpireLocked(Clock::time_point now) {
  // Released bodies leave their place in order_ behind: it is bounded too.
  while (!order_.empty() && (now - order_.front().first >= ttl_ || order_.size() > 2 * capacity_)) {
    PopOldestLocked();
  }
}

HttpResponse LeakReportSurface::Handle(RequestContext& ctx, const HttpRequest& req) {
  if (req.Path() != kLeakReportPath) {
    return PlainJsonError(ctx, 404, "application/route_not_found",
                          "no route for " + req.method + " at this path");
  }
  if (req.method != "POST") {
    HttpResponse r = PlainJsonError(ctx, 405, "application/method_not_allowed",
                                    "leak reports are sent with POST");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  // Acting on a key writes to the store.
  if (!ctx.may_block) return HttpResponse::RunOnWorker();
  const std::string_view identifier = req.Header("github-public-key-identifier");
  const std::string_view signature = req.Header("github-public-key-signature");
  if (identifier.empty() || signature.empty()) {
    return PlainJsonError(ctx, 401, "leak_report/unsigned",
                          "a report needs the Github-Public-Key-Identifier and "
                          "Github-Public-Key-Signature headers");
  }
  std::shared_ptr<const LeakReportKeys> keys = key_file_.Current();
  const crypto::EcdsaP256PublicKey* key = keys->Find(identifier);
  std::vector<uint8_t> der;
  if (key == nullptr || !crypto::Base64Decode(signature, &der) || !key->Verify(req.body, der)) {
    // One answer for an unknown key and a bad signature: which identifiers exist is not told.
    spdlog::warn("{}: leak report from {} refused: its signature does not verify", ctx.request_id,
                 ctx.client_ip);
    return PlainJsonError(ctx, 401, "leak_report/bad_signature",
                          "the signature does not verify with a configured public key");
  }
  auto items = ParseLeakReport(req.body);
  if (!items.ok()) {
    const bool too_many = items.status().code() == StatusCode::kResourceExhausted;
    return PlainJsonError(ctx, too_many ? 413 : 400,
                          too_many ? "leak_report/too_many_tokens" : "leak_report/malformed",
                          items.status().message());
  }
  const RecentReports::Claimed claimed = recent_.Claim(req.body, RecentReports::Clock::now());
  if (claimed == RecentReports::Claimed::kInFlight) {
    // The first delivery may yet fail: a 2xx now would stop the sender's retries with the keys
    // still live. The sender retries; by then the first delivery has finished one way or the other.
    spdlog::info("{}: leak report of {} token(s) from {} is being acted on already: retry asked",
                 ctx.request_id, items->size(), ctx.client_ip);
    HttpResponse r = PlainJsonError(ctx, 503, "application/service_unavailable",
                                    "the same report is being acted on; send it again");
    r.headers.emplace_back("Retry-After", "5");
    return r;
  }
  if (claimed == RecentReports::Claimed::kDone) {
    // Acted on already (a replay, or a retry of a report that was): the same answer, nothing done.
    spdlog::info("{}: leak report of {} token(s) from {} was acted on already: not again",
                 ctx.request_id, items->size(), ctx.client_ip);
    return JsonResponse(200, {{"received", items->size()}});
  }
  // The signed report stands for a caller allowed to act on any key.
  ctx.actor = Principal{.key_id = "leak-report", .permissions = {"*"}};
  size_t failed = 0;
  for (const LeakReportItem& item : *items) {
    auto done = keys_.ReportLeak(ctx, item.token, LeakReportSource(item));
    if (done.status().code() == StatusCode::kInvalidArgument) {
      // A token that is part of the words recorded ("code", "host"…) is no key of ours: the
      // report is acted on without a source rather than refused for ever.
      done = keys_.ReportLeak(ctx, item.token, "");
    }
    if (!done.ok()) {
      ++failed;
      spdlog::error("{}: a reported token could not be acted on: {}", ctx.request_id,
                    done.status().message());
    }
  }
  spdlog::info("{}: leak report of {} token(s) from {} (key {})", ctx.request_id, items->size(),
               ctx.client_ip, std::string(identifier.substr(0, 16)));
  if (failed > 0) {
    // Acting again is harmless (a revoked key stays revoked): the sender retries the whole report,
    // which is then acted on again.
    recent_.Release(req.body);
    HttpResponse r = PlainJsonError(ctx, 503, "application/service_unavailable",
                                    "the report could not be acted on in full; send it again");
    r.headers.emplace_back("Retry-After", "5");
    return r;
  }
  recent_.Finish(req.body);
  return JsonResponse(200, {{"received", items->size()}});
}

}  // namespace keyhold::http

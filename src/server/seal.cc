#include "server/seal.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "crypto/crypto.h"
#include "crypto/secure_bytes.h"
#include "crypto/system_env.h"
#include "server/bootstrap.h"
#include "service/secrets.h"

namespace keyhold::server {
namespace {

using nlohmann::json;
namespace shamir = crypto::shamir;

std::string MasterKeyPath(const std::string& data_dir) { return data_dir + "/master.key"; }

Status SyncDirectory(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Unavailable("cannot open " + dir + ": " + std::strerror(errno));
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return Unavailable("cannot sync " + dir + ": " + std::strerror(errno));
  return OkStatus();
}

// Overwrites the file with zeros, syncs, then unlinks it and syncs its directory. (On a
// copy-on-write or journaling file system the old blocks may survive: the overwrite is a best
// effort, the unlink is not.)
Status SecureRemove(const std::string& path, const std::string& dir) {
  int fd = open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Unavailable("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  bool ok = fstat(fd, &st) == 0;
  std::vector<char> zeros(ok ? static_cast<size_t>(st.st_size) : 0, '\0');
  ok = ok && write(fd, zeros.data(), zeros.size()) == static_cast<ssize_t>(zeros.size()) &&
       fsync(fd) == 0;
  close(fd);
  if (!ok) return Unavailable("cannot overwrite " + path + ": " + std::strerror(errno));
  if (unlink(path.c_str()) != 0) {
    return Unavailable("cannot remove " + path + ": " + std::strerror(errno));
  }
  return SyncDirectory(dir);
}

}  // namespace

std::string SealConfigPath(const std::string& data_dir) { return data_dir + "/seal.json"; }

StatusOr<std::optional<SealConfig>> LoadSealConfig(const std::string& data_dir) {
  std::string path = SealConfigPath(data_dir);
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<SealConfig>();
    return Unavailable("cannot open " + path + ": " + std::strerror(errno));
  }
  std::string text(4096, '\0');
  ssize_t n = read(fd, text.data(), text.size());
  close(fd);
  if (n < 0) return Unavailable("cannot read " + path + ": " + std::strerror(errno));
  text.resize(static_cast<size_t>(n));
  Status bad = FailedPrecondition(path + " is not a keyhold seal configuration");
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("type", "") != "shamir") return bad;
  SealConfig c;
  auto threshold = j.find("threshold");
  auto shares = j.find("shares");
  if (threshold == j.end() || shares == j.end() || !threshold->is_number_integer() ||
      !shares->is_number_integer()) {
    return bad;
  }
  c.threshold = threshold->get<int>();
  c.shares = shares->get<int>();
  if (c.threshold < 1 || c.threshold > c.shares || c.shares > shamir::kMaxShares) return bad;
  std::string set_id;
  std::string check;
  if (!j.contains("setId") || !j["setId"].is_string() || !j.contains("keyCheck") ||
      !j["keyCheck"].is_string() || !crypto::HexDecode(j["setId"].get<std::string>(), &set_id) ||
      !crypto::HexDecode(j["keyCheck"].get<std::string>(), &check) ||
      set_id.size() != c.set_id.size() || check.size() != c.key_check.size()) {
    return bad;
  }
  std::memcpy(c.set_id.data(), set_id.data(), c.set_id.size());
  std::memcpy(c.key_check.data(), check.data(), c.key_check.size());
  return std::optional<SealConfig>(c);
}

Status SaveSealConfig(const std::string& data_dir, const SealConfig& config) {
  json j = {{"type", "shamir"},
            {"threshold", config.threshold},
            {"shares", config.shares},
            {"setId", crypto::HexEncode(config.set_id)},
            {"keyCheck", crypto::HexEncode(config.key_check)}};
  std::string text = j.dump(2) + "\n";
  std::string path = SealConfigPath(data_dir);
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable("cannot create " + tmp + ": " + std::strerror(errno));
  bool ok =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return Unavailable("cannot write " + path + ": " + std::strerror(errno));
  }
  return SyncDirectory(data_dir);
}

bool KeyMatches(const SealConfig& config, std::span<const uint8_t> key) {
  return crypto::ConstantTimeEqual(shamir::KeyCheck(key), config.key_check);
}

int InitShares(const Settings& settings, int shares, int threshold, bool json_output) {
  umask(077);
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "keyhold operator init-shares: %s\n", message.c_str());
    return 1;
  };
  if (shares < 1 || shares > shamir::kMaxShares || threshold < 1 || threshold > shares) {
    std::fprintf(stderr,
                 "keyhold operator init-shares: --shares must be from 1 to 255 and --threshold "
                 "from 1 to --shares\n");
    return 2;
  }
  if (!settings.Get("master_key_file").empty()) {
    return fail(
        "the master key comes from KEYHOLD_MASTER_KEY_FILE (--master-key-file), which keyhold "
        "does not own: splitting it would leave the whole key on disk. Copy it to "
        "DATA_DIR/master.key (mode 0600), unset the setting, and run this again");
  }
  if (const char* env_key = std::getenv("KEYHOLD_MASTER_KEY"); env_key && *env_key) {
    return fail(
        "the master key comes from KEYHOLD_MASTER_KEY: a sealed server takes it from shares "
        "instead. Write it to DATA_DIR/master.key (mode 0600), unset the variable, and run this "
        "again");
  }
  const std::string& dir = settings.Get("data_dir");
  crypto::InitSecureHeap();
  auto existing = LoadSealConfig(dir);
  if (!existing.ok()) return fail(existing.status().message());
  if (*existing && access(MasterKeyPath(dir).c_str(), F_OK) != 0) {
    return fail(dir + " is already sealed (" + SealConfigPath(dir) +
                "): its master key exists only as shares");
  }
  crypto::SystemEnv env;
  auto opened = OpenDataDir(dir, "", env);
  if (!opened.ok()) return fail(opened.status().message());
  // Never split a key that does not open this directory's secrets (e.g. a master.key made anew
  // beside a store whose key was lost): the shares would unseal nothing.
  if (auto secrets = service::SecretService::Open(*opened->store, env, opened->master_key.view());
      !secrets.ok()) {
    return fail("cannot open the secrets keyring with " + MasterKeyPath(dir) + ": " +
                secrets.status().message() + "; nothing was split");
  }
  auto split = shamir::Split(opened->master_key.view(), threshold, shares);
  if (!split.ok()) return fail(split.status().message());
  SealConfig config{.threshold = threshold, .shares = shares};
  crypto::RandomBytes(config.set_id);
  config.key_check = shamir::KeyCheck(opened->master_key.view());
  // seal.json first: until master.key is gone the server keeps using master.key (checked
  // against seal.json), so a crash in between loses nothing.
  if (Status st = SaveSealConfig(dir, config); !st.ok()) return fail(st.message());

  std::vector<std::string> texts;
  for (const shamir::Share& s : *split)
    texts.push_back(shamir::EncodeShare(config.set_id, threshold, s));
  if (json_output) {
    json j = {
        {"unseal_keys_b64", texts}, {"unseal_shares", shares}, {"unseal_threshold", threshold}};
    if (opened->created_root_key) {
      j["rootKeyId"] = opened->created_root_key->key_id;
      j["rootKey"] = std::string(opened->created_root_key->key.Reveal());
    }
    std::string out = j.dump();
    std::printf("%s\n", out.c_str());
    OPENSSL_cleanse(out.data(), out.size());
  } else {
    if (opened->created_root_key) {
      const auto& k = *opened->created_root_key;
      std::printf(
          "Created the first root key. It holds every permission and is shown only this once:\n"
          "  root key id: %s\n  root key:    %.*s\n\n",
          k.key_id.c_str(), static_cast<int>(k.key.Reveal().size()), k.key.Reveal().data());
    }
    std::printf(
        "The master key is split into %d share%s; any %d of them unseal the server.\n"
        "Each share is shown only this once: give each to a different person.\n\n",
        shares, shares == 1 ? "" : "s", threshold);
    for (size_t i = 0; i < texts.size(); ++i) {
      std::printf("  Unseal share %zu of %d: %s\n", i + 1, shares, texts[i].c_str());
    }
    std::printf(
        "\n%s is now sealed: keyhold serve starts sealed (keys verify; secrets answer 503) "
        "until `keyhold operator unseal` is given %d share%s.\n",
        dir.c_str(), threshold, threshold == 1 ? "" : "s");
  }
  for (std::string& t : texts) OPENSSL_cleanse(t.data(), t.size());
  if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) {
    // The shares may not have reached anyone: keep master.key, which still opens the directory.
    return fail("the shares could not be written out; " + MasterKeyPath(dir) +
                " is kept: run this again");
  }
  if (Status st = SecureRemove(MasterKeyPath(dir), dir); !st.ok()) {
    return fail(st.message() + "; remove it by hand, or the server keeps using it");
  }
  return 0;
}

Status Unsealer::Audit(const RequestContext& ctx, std::string action, std::string outcome,
                       std::string details_json) {
  if (!audit_) return OkStatus();
  return audit_(audit::EntryFor(ctx, env_.NowMillis(), std::move(action), "seal",
                                std::move(details_json), std::move(outcome)));
}

Status Unsealer::Refuse(const RequestContext& ctx, std::string_view why, Status refusal) {
  json details = {{"reason", why}, {"threshold", config_.threshold}};
  if (Status st = Audit(ctx, "seal.unseal_share", "failed", details.dump()); !st.ok()) {
    spdlog::error("the refused unseal share could not be audited: {}", st.message());
  }
  return refusal;
}

Unsealer::State Unsealer::StateLocked() const {
  return {.sealed = sealed_.load(std::memory_order_acquire),
          .threshold = config_.threshold,
          .shares = config_.shares,
          .progress = static_cast<int>(held_.size()),
          .nonce = nonce_};
}

void Unsealer::ForgetLocked() {
  held_.clear();  // each share's bytes are zeroed as it is freed
  nonce_.clear();
}

Unsealer::State Unsealer::Get() {
  std::lock_guard lock(mu_);
  if (!held_.empty() && env_.NowMillis() - last_share_ms_ > kProgressTimeoutMs) ForgetLocked();
  return StateLocked();
}

bool Unsealer::AdmitLocked(std::string_view client, int64_t now) {
  if (windows_.size() >= kMaxTrackedAddresses) {
    std::erase_if(windows_, [&](const auto& w) { return now - w.second.start_ms >= 60'000; });
  }
  // Past the bound, new addresses share one window: a flood of addresses is bounded too.
  std::string key = windows_.size() < kMaxTrackedAddresses || windows_.contains(client)
                        ? std::string(client)
                        : std::string("*");
  Window& w = windows_[key];
  if (now - w.start_ms >= 60'000) w = {now, 0};
  return ++w.count <= kMaxSharesPerMinute;
}

Status Unsealer::SealingLocked() const {
  if (!sealing_) return OkStatus();
  return Status(StatusCode::kUnavailable, "server/sealing",
                "the server is being sealed: try again once it is sealed");
}

StatusOr<Unsealer::State> Unsealer::Reset(const RequestContext& ctx) {
  std::lock_guard lock(mu_);
  KH_RETURN_IF_ERROR(SealingLocked());
  // Unsealed, there is no progress to forget: nothing changes and nothing is audited, so
  // unauthenticated resets cannot fill the audit log.
  if (!IsSealed()) return StateLocked();
  if (!AdmitLocked(ctx.client_ip, env_.NowMillis())) {
    return Status(StatusCode::kResourceExhausted, "server/unseal_rate",
                  "too many unseal attempts from this address: wait a minute");
  }
  json details = {{"forgotten", held_.size()}, {"threshold", config_.threshold}};
  ForgetLocked();
  if (Status st = Audit(ctx, "seal.unseal_reset", "success", details.dump()); !st.ok()) {
    spdlog::error("the unseal reset could not be audited: {}", st.message());
  }
  return StateLocked();
}

StatusOr<Unsealer::State> Unsealer::Submit(std::string_view text, const RequestContext& ctx) {
  std::lock_guard lock(mu_);
  KH_RETURN_IF_ERROR(SealingLocked());
  if (!IsSealed()) return StateLocked();
  int64_t now = env_.NowMillis();
  if (!AdmitLocked(ctx.client_ip, now)) {
    // Not audited: the limit is there to bound a flood, which would otherwise fill the log.
    return Status(StatusCode::kResourceExhausted, "server/unseal_rate",
                  "too many unseal attempts from this address: wait a minute");
  }
  if (!held_.empty() && now - last_share_ms_ > kProgressTimeoutMs) ForgetLocked();
  auto parsed = shamir::ParseShare(text);
  if (!parsed.ok()) {
    spdlog::warn("unseal share refused: {}", parsed.status().message());
    return Refuse(ctx, "malformed", parsed.status());
  }
  if (parsed->set_id != config_.set_id || parsed->threshold != config_.threshold ||
      parsed->share.y.size() != 32) {
    spdlog::warn("unseal share refused: it is from another split of the master key");
    return Refuse(ctx, "foreign",
                  InvalidArgument("this share is from another split of the master key (another "
                                  "data directory, or an earlier init-shares)"));
  }
  for (const shamir::Share& h : held_) {
    if (h.x == parsed->share.x) {
      return Refuse(
          ctx, "repeated",
          InvalidArgument("given key has already been provided during this unseal operation"));
    }
  }
  const int index = parsed->share.x;
  std::string nonce = nonce_;
  if (held_.empty()) {
    std::array<uint8_t, 16> bytes{};
    env_.RandomBytes(bytes);
    nonce = crypto::HexEncode(bytes);
  }
  // The share counts only once its taking is on record.
  json details = {{"shareIndex", index},
                  {"progress", held_.size() + 1},
                  {"threshold", config_.threshold},
                  {"nonce", nonce}};
  if (Status st = Audit(ctx, "seal.unseal_share", "success", details.dump()); !st.ok()) {
    spdlog::error("unseal share not taken: the audit log cannot be written: {}", st.message());
    return Unavailable("the audit log cannot be written: the share was not taken; try again");
  }
  nonce_ = std::move(nonce);
  last_share_ms_ = now;
  held_.push_back(std::move(parsed->share));
  if (static_cast<int>(held_.size()) < config_.threshold) {
    spdlog::info("unseal progress {}/{}", held_.size(), config_.threshold);
    return StateLocked();
  }
  auto key = shamir::Combine(held_);
  ForgetLocked();
  if (!key.ok() || !KeyMatches(config_, key->view())) {
    spdlog::warn("unseal refused: the {} shares given do not give the master key",
                 config_.threshold);
    return Refuse(ctx, "wrong_key",
                  InvalidArgument(
                      "the shares given do not reconstruct the master key: unseal progress reset"));
  }
  if (Status st = on_unseal_(key->view()); !st.ok()) {
    spdlog::error("the master key was reconstructed but the server could not start with it: {}",
                  st.message());
    return Refuse(ctx, "start_failed",
                  Unavailable("the server could not start with the master key: " + st.message()));
  }
  sealed_.store(false, std::memory_order_release);
  spdlog::info("unsealed");
  if (Status st =
          Audit(ctx, "seal.unseal", "success", json{{"threshold", config_.threshold}}.dump());
      !st.ok()) {
    spdlog::error("the unseal could not be audited: {}", st.message());
  }
  return StateLocked();
}

Status Unsealer::Seal(const RequestContext& ctx) {
  if (!on_seal_) return FailedPrecondition("this server cannot be sealed while it runs");
  {
    // Not held while the services stop (seconds, with a webhook receiver that hangs):
    // seal-status answers meanwhile, and shares are refused until the seal is done.
    std::lock_guard lock(mu_);
    if (IsSealed()) return OkStatus();
    sealed_.store(true, std::memory_order_release);
    sealing_ = true;
    ForgetLocked();
  }
  spdlog::warn("sealing: requested by root key {} from {}", ctx.actor.key_id, ctx.client_ip);
  if (Status st = Audit(ctx, "seal.seal", "success", json{{"threshold", config_.threshold}}.dump());
      !st.ok()) {
    spdlog::error("the seal could not be audited (sealing anyway): {}", st.message());
  }
  on_seal_();
  {
    std::lock_guard lock(mu_);
    sealing_ = false;
  }
  spdlog::warn(
      "sealed: secrets wait until {} of {} unseal shares are given (keyhold operator "
      "unseal)",
      config_.threshold, config_.shares);
  return OkStatus();
}

}  // namespace keyhold::server

#include "audit/checkpoint.h"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "crypto/crypto.h"

namespace keyhold::audit {
namespace {

constexpr std::string_view kDomain = "keyhold-audit-checkpoint-v1";
constexpr std::string_view kSigningLabel = "keyhold audit checkpoint signing key v1";

void PutUint(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

template <size_t N>
bool DecodeHexInto(const nlohmann::json& j, const char* name, std::array<uint8_t, N>& out) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return false;
  std::string bytes;
  if (!crypto::HexDecode(it->get<std::string>(), &bytes) || bytes.size() != N) return false;
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return true;
}

}  // namespace

std::string SignedBytes(const Checkpoint& cp) {
  std::string out(kDomain);
  PutUint(out, static_cast<uint64_t>(cp.seq));
  out.append(reinterpret_cast<const char*>(cp.hash.data()), cp.hash.size());
  PutUint(out, static_cast<uint64_t>(cp.time_ms));
  return out;
}

StatusOr<CheckpointSigner> CheckpointSigner::FromMasterKey(std::span<const uint8_t> master_key) {
  if (master_key.size() != 32) return InvalidArgument("the master key must be 32 bytes");
  crypto::Sha256Digest seed = crypto::HmacSha256(master_key, kSigningLabel);
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size());
  OPENSSL_cleanse(seed.data(), seed.size());
  if (!key) return Internal("cannot create the audit checkpoint signing key");
  CheckpointSigner signer;
  signer.key_ =
      std::shared_ptr<void>(key, [](void* k) { EVP_PKEY_free(static_cast<EVP_PKEY*>(k)); });
  size_t len = signer.public_key_.size();
  if (EVP_PKEY_get_raw_public_key(key, signer.public_key_.data(), &len) != 1 || len != 32) {
    return Internal("cannot read the audit checkpoint public key");
  }
  return signer;
}

Checkpoint CheckpointSigner::Sign(int64_t seq, const ChainHash& hash, int64_t time_ms) const {
  Checkpoint cp{seq, hash, time_ms, public_key_, {}};
  std::string msg = SignedBytes(cp);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = cp.signature.size();
  bool ok =
      ctx &&
      EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(key_.get())) == 1 &&
      EVP_DigestSign(ctx, cp.signature.data(), &len,
                     reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  // Ed25519 signing with a valid key cannot fail but for allocation; an unsigned checkpoint would
  // be reported as forged by every verifier, which is the safe way to fail.
  if (!ok) cp.signature.fill(0);
  return cp;
}

bool VerifySignature(const Checkpoint& cp) {
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, cp.public_key.data(),
                                              cp.public_key.size());
  if (!key) return false;
  std::string msg = SignedBytes(cp);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, cp.signature.data(), cp.signature.size(),
                             reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

std::string ToJson(const Checkpoint& cp) {
  nlohmann::json j = {{"type", "checkpoint"},
                      {"seq", cp.seq},
                      {"hash", crypto::HexEncode(cp.hash)},
                      {"time", cp.time_ms},
                      {"publicKey", crypto::HexEncode(cp.public_key)},
                      {"signature", crypto::HexEncode(cp.signature)}};
  return j.dump();
}

StatusOr<Checkpoint> ParseCheckpoint(std::string_view json_line) {
  nlohmann::json j = nlohmann::json::parse(json_line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return InvalidArgument("a checkpoint must be a JSON object");
  Checkpoint cp;
  auto seq = j.find("seq");
  auto time = j.find("time");
  if (seq == j.end() || !seq->is_number_integer() || seq->get<int64_t>() < 0) {
    return InvalidArgument("a checkpoint needs a non-negative integer \"seq\"");
  }
  if (time == j.end() || !time->is_number_integer()) {
    return InvalidArgument("a checkpoint needs an integer \"time\"");
  }
  cp.seq = seq->get<int64_t>();
  cp.time_ms = time->get<int64_t>();
  if (!DecodeHexInto(j, "hash", cp.hash)) {
    return InvalidArgument("a checkpoint needs \"hash\": 64 hex digits");
  }
  if (!DecodeHexInto(j, "publicKey", cp.public_key)) {
    return InvalidArgument("a checkpoint needs \"publicKey\": 64 hex digits");
  }
  if (!DecodeHexInto(j, "signature", cp.signature)) {
    return InvalidArgument("a checkpoint needs \"signature\": 128 hex digits");
  }
  return cp;
}

}  // namespace keyhold::audit

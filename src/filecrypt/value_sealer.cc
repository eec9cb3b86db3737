#include "filecrypt/value_sealer.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <array>
#include <cstdlib>
#include <memory>

#include "crypto/crypto.h"

namespace keyhold::filecrypt {
namespace {

constexpr size_t kSaltSize = 16;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr std::string_view kEncLabel = "keyhold file v1 value key";
constexpr std::string_view kMacLabel = "keyhold file v1 mac key";
constexpr std::string_view kIdLabel = "keyhold file key id";

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// HKDF-SHA256 (RFC 5869) into `out`. Aborts if OpenSSL cannot run it: there is no safe
// fallback for a missing KDF.
void Hkdf(std::span<const uint8_t> key, std::span<const uint8_t> salt, std::string_view info,
          std::span<uint8_t> out) {
  std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr),
                                                        &EVP_KDF_free);
  if (!kdf) std::abort();
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf.get()),
                                                                &EVP_KDF_CTX_free);
  if (!ctx) std::abort();
  std::array<char, 7> digest = {'S', 'H', 'A', '2', '5', '6', '\0'};
  std::array<OSSL_PARAM, 5> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(key.data()),
                                        key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params.data()) != 1) std::abort();
}

// Length-prefixed, so that no two different lists serialize alike.
void AppendField(std::string& out, std::string_view field) {
  uint64_t n = field.size();
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(n >> shift));
  out.append(field);
}

std::string Aad(std::string_view path, ValueType type) {
  std::string aad = "keyhold file v1";
  AppendField(aad, path);
  AppendField(aad, ValueTypeName(type));
  return aad;
}

std::optional<ValueType> TypeNamed(std::string_view name) {
  for (ValueType t : {ValueType::kString, ValueType::kInt, ValueType::kFloat, ValueType::kBool,
                      ValueType::kNull}) {
    if (ValueTypeName(t) == name) return t;
  }
  return std::nullopt;
}

// The fields of a token, still base64.
struct TokenParts {
  std::string_view data, iv, tag;
  ValueType type = ValueType::kString;
};

// Reads "name:value" followed by `end` from the front of `rest`.
bool TakeField(std::string_view& rest, std::string_view name, char end, std::string_view* value) {
  if (!rest.starts_with(name) || rest.size() <= name.size() || rest[name.size()] != ':') {
    return false;
  }
  rest.remove_prefix(name.size() + 1);
  size_t stop = rest.find(end);
  if (stop == std::string_view::npos) return false;
  *value = rest.substr(0, stop);
  rest.remove_prefix(stop + 1);
  return true;
}

std::optional<TokenParts> ParseToken(std::string_view token) {
  if (!token.starts_with(kTokenPrefix) || !token.ends_with(']')) return std::nullopt;
  std::string_view rest = token.substr(kTokenPrefix.size());
  TokenParts parts;
  std::string_view type;
  if (!TakeField(rest, "data", ',', &parts.data) || !TakeField(rest, "iv", ',', &parts.iv) ||
      !TakeField(rest, "tag", ',', &parts.tag) || !TakeField(rest, "type", ']', &type) ||
      !rest.empty()) {
    return std::nullopt;
  }
  auto t = TypeNamed(type);
  if (!t) return std::nullopt;
  parts.type = *t;
  return parts;
}

Status Integrity(std::string message) {
  return FailedPrecondition(std::move(message), std::string(kReasonIntegrity));
}

bool NeedsQuoting(std::string_view key) {
  return key.empty() || key.find_first_of(".[]\"\\") != std::string_view::npos;
}

}  // namespace

bool IsVerificationFailure(const Status& status) {
  return status.reason() == kReasonIntegrity || status.reason() == kReasonWrongKey;
}

std::string_view ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kString:
      return "str";
    case ValueType::kInt:
      return "int";
    case ValueType::kFloat:
      return "float";
    case ValueType::kBool:
      return "bool";
    case ValueType::kNull:
      return "null";
  }
  return "str";
}

FileKey FileKey::Generate(Env& env) {
  crypto::SecureBytes bytes(kFileKeySize);
  env.RandomBytes(bytes.mutable_view());
  return FileKey(std::move(bytes));
}

StatusOr<FileKey> FileKey::FromBase64(std::string_view text) {
  auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  std::vector<uint8_t> decoded;
  bool ok = crypto::Base64Decode(text, &decoded) && decoded.size() == kFileKeySize;
  crypto::SecureBytes bytes(kFileKeySize);
  if (ok) std::copy(decoded.begin(), decoded.end(), bytes.mutable_view().begin());
  OPENSSL_cleanse(decoded.data(), decoded.size());
  if (!ok) return InvalidArgument("a file key is the base64 of 32 bytes");
  return FileKey(std::move(bytes));
}

std::string FileKey::ToBase64() const { return crypto::Base64Encode(bytes_.view()); }

std::string FileKey::Id() const {
  crypto::Sha256Digest id = crypto::HmacSha256(bytes_.view(), kIdLabel);
  return crypto::HexEncode(std::span<const uint8_t>(id).first(8));
}

ValueSealer ValueSealer::Derive(const FileKey& key, std::span<const uint8_t> salt) {
  crypto::SecureBytes enc_key(32);
  crypto::SecureBytes mac_key(32);
  Hkdf(key.view(), salt, kEncLabel, enc_key.mutable_view());
  Hkdf(key.view(), salt, kMacLabel, mac_key.mutable_view());
  return ValueSealer(std::move(enc_key), std::move(mac_key), crypto::Base64Encode(salt), key.Id());
}

ValueSealer ValueSealer::ForNewFile(const FileKey& key, Env& env) {
  std::array<uint8_t, kSaltSize> salt{};
  env.RandomBytes(salt);
  return Derive(key, salt);
}

StatusOr<ValueSealer> ValueSealer::ForFile(const FileKey& key, const FileHeader& header) {
  if (header.version != kFormatVersion) {
    return InvalidArgument("unsupported format version " + std::to_string(header.version) +
                               " (this keyhold reads version " + std::to_string(kFormatVersion) +
                               ")",
                           std::string(kReasonMalformed));
  }
  std::vector<uint8_t> salt;
  if (!crypto::Base64Decode(header.salt, &salt) || salt.size() != kSaltSize) {
    return InvalidArgument("the file's salt is not 16 bytes of base64",
                           std::string(kReasonMalformed));
  }
  if (header.key_id != key.Id()) {
    return FailedPrecondition("the file was encrypted with another key (key id " +
                                  header.key_id.substr(0, 16) + ", this key is " + key.Id() + ")",
                              std::string(kReasonWrongKey));
  }
  return Derive(key, salt);
}

std::string ValueSealer::Seal(std::string_view path, ValueType type, std::string_view plaintext,
                              Env& env) const {
  std::array<uint8_t, kNonceSize> nonce{};
  env.RandomBytes(nonce);
  std::vector<uint8_t> sealed =
      crypto::Aes256GcmSeal(enc_key_.view(), nonce, plaintext, Aad(path, type));
  std::span<const uint8_t> all(sealed);
  std::string token(kTokenPrefix);
  token +=
      "data:" + crypto::Base64Encode(all.subspan(kNonceSize, all.size() - kNonceSize - kTagSize));
  token += ",iv:" + crypto::Base64Encode(nonce);
  token += ",tag:" + crypto::Base64Encode(all.last(kTagSize));
  token += ",type:" + std::string(ValueTypeName(type)) + "]";
  return token;
}

StatusOr<OpenedValue> ValueSealer::Open(std::string_view path, std::string_view token) const {
  std::optional<TokenParts> parts = ParseToken(token);
  std::vector<uint8_t> data, iv, tag;
  if (!parts || !crypto::Base64Decode(parts->data, &data) ||
      !crypto::Base64Decode(parts->iv, &iv) || !crypto::Base64Decode(parts->tag, &tag) ||
      iv.size() != kNonceSize || tag.size() != kTagSize) {
    return Integrity(std::string(path) + ": not an encrypted value");
  }
  std::vector<uint8_t> sealed = iv;
  sealed.insert(sealed.end(), data.begin(), data.end());
  sealed.insert(sealed.end(), tag.begin(), tag.end());
  std::vector<uint8_t> plain;
  if (!crypto::Aes256GcmOpen(enc_key_.view(), sealed, Aad(path, parts->type), &plain)) {
    return Integrity(std::string(path) + ": the value does not decrypt at this key path");
  }
  OpenedValue out;
  out.type = parts->type;
  out.plaintext.assign(plain.begin(), plain.end());
  OPENSSL_cleanse(plain.data(), plain.size());
  return out;
}

std::string ValueSealer::Mac(std::string_view syntax,
                             const std::vector<SealedEntry>& entries) const {
  std::string message = "keyhold file mac";
  AppendField(message, std::to_string(kFormatVersion));
  AppendField(message, syntax);
  AppendField(message, salt_);
  AppendField(message, key_id_);
  AppendField(message, std::to_string(entries.size()));
  for (const SealedEntry& e : entries) {
    AppendField(message, e.path);
    AppendField(message, e.token);
  }
  crypto::Sha256Digest mac = crypto::HmacSha256(mac_key_.view(), message);
  return crypto::Base64Encode(mac);
}

FileHeader ValueSealer::Header(std::string_view syntax,
                               const std::vector<SealedEntry>& entries) const {
  FileHeader h;
  h.salt = salt_;
  h.key_id = key_id_;
  h.mac = Mac(syntax, entries);
  return h;
}

Status ValueSealer::VerifyMac(std::string_view syntax, const std::vector<SealedEntry>& entries,
                              std::string_view mac) const {
  std::string expected = Mac(syntax, entries);
  if (expected.size() != mac.size() || !crypto::ConstantTimeEqual(Bytes(expected), Bytes(mac))) {
    return Integrity(
        "the file's MAC does not match: a value, key, the order or the metadata was changed, "
        "added or removed");
  }
  return OkStatus();
}

bool LooksSealed(std::string_view value) { return value.starts_with(kTokenPrefix); }

std::string ChildPath(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!NeedsQuoting(key)) {
    if (!out.empty()) out += '.';
    out += key;
    return out;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out += "[\"";
  for (unsigned char c : key) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += "\"]";
  return out;
}

std::string IndexPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

}  // namespace keyhold::filecrypt

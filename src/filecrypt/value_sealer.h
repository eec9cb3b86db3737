// The cryptography of `keyhold file encrypt|decrypt` (docs/file-encryption.md): the file key,
// one sealed value, and the MAC over a whole file, independent of the file's syntax.
//
//   FileKey key = FileKey::Generate(env);
//   ValueSealer sealer = ValueSealer::ForNewFile(key, env);
//   std::string token = sealer.Seal("db.password", ValueType::kString, plaintext, env);
//   // ... every value of the file, then:
//   FileHeader header = sealer.Header("json", entries);   // stored in the file
//
// Each value is AES-256-GCM under a key derived (HKDF-SHA256) from the file key and the file's
// random salt, with a fresh 96-bit nonce and associated data binding it to its key path and
// type: a value moved to another key does not open. The MAC (HMAC-SHA256 under a second derived
// key) covers the format version, the file syntax, the salt, the key id and every (path, token)
// pair in file order, so a changed, renamed, reordered, added or removed entry is detected.
//
// Thread-safety: a ValueSealer is immutable once made; Seal takes the caller's Env.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "crypto/secure_bytes.h"

namespace keyhold::filecrypt {

inline constexpr size_t kFileKeySize = 32;
inline constexpr int kFormatVersion = 1;
// The prefix every sealed value starts with.
inline constexpr std::string_view kTokenPrefix = "ENC[AES256_GCM,";

// Status reasons. A file that fails verification (changed, or another key) carries
// kReasonIntegrity or kReasonWrongKey; everything else is a usage or input problem.
inline constexpr std::string_view kReasonIntegrity = "file/integrity";
inline constexpr std::string_view kReasonWrongKey = "file/wrong_key";
inline constexpr std::string_view kReasonMalformed = "file/malformed";
inline constexpr std::string_view kReasonAlreadyEncrypted = "file/already_encrypted";
inline constexpr std::string_view kReasonNotEncrypted = "file/not_encrypted";
inline constexpr std::string_view kReasonTooLarge = "file/too_large";

// True for a status that means "this encrypted file does not verify".
bool IsVerificationFailure(const Status& status);

// The scalar type a value had before it was sealed, restored when it is opened.
enum class ValueType { kString, kInt, kFloat, kBool, kNull };
std::string_view ValueTypeName(ValueType type);

// A 256-bit file key in locked, zeroed-on-free memory.
class FileKey {
 public:
  static FileKey Generate(Env& env);
  // Standard base64 of exactly 32 bytes; whitespace around it is ignored.
  // Errors: kInvalidArgument (the message never quotes the text).
  static StatusOr<FileKey> FromBase64(std::string_view text);
  // For storing the key: standard base64. The caller owns what it does with it.
  std::string ToBase64() const;
  // A public fingerprint of the key (16 hex digits, an HMAC of a fixed label), kept in
  // encrypted files so that decrypting with another key says so.
  std::string Id() const;
  std::span<const uint8_t> view() const { return bytes_.view(); }

 private:
  explicit FileKey(crypto::SecureBytes bytes) : bytes_(std::move(bytes)) {}
  crypto::SecureBytes bytes_;
};

// The metadata stored in an encrypted file.
struct FileHeader {
  int version = kFormatVersion;
  std::string salt;    // base64 of 16 bytes
  std::string key_id;  // FileKey::Id()
  std::string mac;     // base64 of the HMAC-SHA256
};

// One value of a file in its sealed form: its key path and its token. Containers with nothing
// in them appear with the token "{}" or "[]" so that the MAC covers them too.
struct SealedEntry {
  std::string path;
  std::string token;
};

// A value opened from its token.
struct OpenedValue {
  ValueType type = ValueType::kString;
  std::string plaintext;  // the caller cleanses it once written out
};

class ValueSealer {
 public:
  // For a file being encrypted: a fresh random salt.
  static ValueSealer ForNewFile(const FileKey& key, Env& env);
  // For a file being decrypted, from its stored header.
  // Errors: kInvalidArgument/kReasonMalformed for an unknown version or a bad salt;
  // kFailedPrecondition/kReasonWrongKey if the header names another key.
  static StatusOr<ValueSealer> ForFile(const FileKey& key, const FileHeader& header);

  // The printable token of `plaintext` at `path`:
  // ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<str|int|float|bool|null>]
  std::string Seal(std::string_view path, ValueType type, std::string_view plaintext,
                   Env& env) const;
  // Opens a token made by Seal for the same path with the same file key and salt.
  // Errors: kFailedPrecondition/kReasonIntegrity if it is not a token or does not open.
  StatusOr<OpenedValue> Open(std::string_view path, std::string_view token) const;

  // The header to store with `entries` (in file order); `syntax` is "env", "json" or "yaml".
  FileHeader Header(std::string_view syntax, const std::vector<SealedEntry>& entries) const;
  // Checks `mac` against `entries`, in constant time.
  // Errors: kFailedPrecondition/kReasonIntegrity if it does not match.
  Status VerifyMac(std::string_view syntax, const std::vector<SealedEntry>& entries,
                   std::string_view mac) const;

 private:
  ValueSealer(crypto::SecureBytes enc_key, crypto::SecureBytes mac_key, std::string salt,
              std::string key_id)
      : enc_key_(std::move(enc_key)),
        mac_key_(std::move(mac_key)),
        salt_(std::move(salt)),
        key_id_(std::move(key_id)) {}
  static ValueSealer Derive(const FileKey& key, std::span<const uint8_t> salt);
  std::string Mac(std::string_view syntax, const std::vector<SealedEntry>& entries) const;

  crypto::SecureBytes enc_key_;
  crypto::SecureBytes mac_key_;
  std::string salt_;
  std::string key_id_;
};

// True if `value` has the shape of a token (it may still fail to open).
bool LooksSealed(std::string_view value);

// Key paths: `db.password`, `servers[1].token`. A key that is empty or holds any of `.[]"\`
// is written as a JSON string in brackets (`db["a.b"]`), so that no two paths collide.
std::string ChildPath(std::string_view parent, std::string_view key);
std::string IndexPath(std::string_view parent, size_t index);

}  // namespace keyhold::filecrypt

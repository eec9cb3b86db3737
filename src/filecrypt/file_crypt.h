// Encrypts only the values of a .env, JSON or YAML file, so that the encrypted file keeps its
// keys in clear, diffs line by line and can be committed (docs/file-encryption.md).
//
//   KH_ASSIGN_OR_RETURN(FileFormat format, FormatForPath("config/app.yaml"));
//   KH_ASSIGN_OR_RETURN(std::string sealed, EncryptFile(text, format, key, env));
//   KH_ASSIGN_OR_RETURN(std::string plain, DecryptFile(sealed, format, key));
//
// Every scalar value is sealed (value_sealer.h) with its key path as associated data; JSON and
// YAML numbers, booleans and nulls get their type back on decryption. The metadata (format
// version, salt, key id, MAC) is a top-level `_keyhold` member in JSON and YAML and a final
// `# keyhold: ...` comment in a .env file. Decryption checks the MAC before it opens anything.
//
// Bounds: input of at most kMaxFileBytes, nesting of at most kMaxDepth, at most kMaxValues
// values. Error messages name key paths and line numbers, never a value.
//
// Thread-safety: the functions keep no state.
#pragma once

#include <string>
#include <string_view>

#include "core/env.h"
#include "core/status.h"
#include "filecrypt/value_sealer.h"

namespace keyhold::filecrypt {

inline constexpr size_t kMaxFileBytes = size_t{16} << 20;
inline constexpr int kMaxDepth = 64;
inline constexpr size_t kMaxValues = 100'000;

enum class FileFormat { kEnv, kJson, kYaml };
std::string_view FormatName(FileFormat format);  // "env", "json", "yaml"

// By extension: `.env` (also `.env.*` and `*.env`), `.json`, `.yaml`/`.yml`.
// Errors: kInvalidArgument if the name says nothing (use --format).
StatusOr<FileFormat> FormatForPath(std::string_view path);
// "env", "dotenv", "json", "yaml", "yml". Errors: kInvalidArgument.
StatusOr<FileFormat> ParseFormatName(std::string_view name);

// The file with every value sealed under `key`; randomness (salt, nonces) from `env`.
// Errors (kInvalidArgument unless said): kReasonMalformed for input that does not parse (with
// the line where known); kReasonAlreadyEncrypted if it holds keyhold metadata already;
// kReasonTooLarge (kPayloadTooLarge) past the bounds above.
StatusOr<std::string> EncryptFile(std::string_view text, FileFormat format, const FileKey& key,
                                  Env& env);

// The plaintext file back. The caller should cleanse the result once written.
// Errors: kReasonMalformed / kReasonTooLarge as EncryptFile; kReasonNotEncrypted if the file has
// no keyhold metadata; kFailedPrecondition with kReasonWrongKey for another key, and with
// kReasonIntegrity for any change to a value, key, order, entry count, metadata or MAC.
StatusOr<std::string> DecryptFile(std::string_view text, FileFormat format, const FileKey& key);

}  // namespace keyhold::filecrypt

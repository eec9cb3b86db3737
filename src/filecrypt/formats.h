// The per-syntax halves of file_crypt.h, and what they share. Internal to src/filecrypt.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "filecrypt/file_crypt.h"
#include "filecrypt/value_sealer.h"

namespace keyhold::filecrypt::internal {

// REQUIRES for all six: `text` within kMaxFileBytes (checked by the caller).
StatusOr<std::string> EncryptEnv(std::string_view text, const FileKey& key, Env& env);
StatusOr<std::string> DecryptEnv(std::string_view text, const FileKey& key);
StatusOr<std::string> EncryptJson(std::string_view text, const FileKey& key, Env& env);
StatusOr<std::string> DecryptJson(std::string_view text, const FileKey& key);
StatusOr<std::string> EncryptYaml(std::string_view text, const FileKey& key, Env& env);
StatusOr<std::string> DecryptYaml(std::string_view text, const FileKey& key);

Status Malformed(std::string message);
Status TooLarge(std::string message);
Status AlreadyEncrypted();
Status NotEncrypted();
Status Integrity(std::string message);
// A value where a sealed one belongs: an entry was added or left in clear.
Status NotSealed(std::string_view path);

// Errors: kReasonMalformed naming the line of the first byte that is not well-formed UTF-8.
Status CheckUtf8(std::string_view text);

// Counts values against kMaxValues as a file is walked.
Status CountValue(size_t& count);

// The name of the metadata member in JSON and YAML.
inline constexpr std::string_view kMetadataKey = "_keyhold";

}  // namespace keyhold::filecrypt::internal

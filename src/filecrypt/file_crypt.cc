#include "filecrypt/file_crypt.h"

#include <openssl/crypto.h>

#include "filecrypt/formats.h"

namespace keyhold::filecrypt {

namespace internal {

Status Malformed(std::string message) {
  return InvalidArgument(std::move(message), std::string(kReasonMalformed));
}

Status TooLarge(std::string message) {
  return {StatusCode::kPayloadTooLarge, std::string(kReasonTooLarge), std::move(message)};
}

Status AlreadyEncrypted() {
  return InvalidArgument("the file is already encrypted (it holds keyhold metadata)",
                         std::string(kReasonAlreadyEncrypted));
}

Status NotEncrypted() {
  return InvalidArgument("the file is not encrypted by keyhold (no keyhold metadata)",
                         std::string(kReasonNotEncrypted));
}

Status Integrity(std::string message) {
  return FailedPrecondition(std::move(message), std::string(kReasonIntegrity));
}

Status NotSealed(std::string_view path) {
  return Integrity(std::string(path) +
                   ": the value is not encrypted (an entry was added or "
                   "changed after encryption)");
}

// Length of the well-formed UTF-8 sequence at the start of `s`, or 0 (RFC 3629: no overlongs,
// no surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char b = byte(0);
  if (b < 0x80) return 1;
  size_t n = b >= 0xC2 && b <= 0xDF   ? 2
             : b >= 0xE0 && b <= 0xEF ? 3
             : b >= 0xF0 && b <= 0xF4 ? 4
                                      : 0;
  if (n == 0 || s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
  }
  unsigned char b1 = byte(1);
  if ((b == 0xE0 && b1 < 0xA0) || (b == 0xED && b1 > 0x9F) || (b == 0xF0 && b1 < 0x90) ||
      (b == 0xF4 && b1 > 0x8F)) {
    return 0;
  }
  return n;
}

Status CheckUtf8(std::string_view text) {
  size_t line = 1;
  for (size_t i = 0; i < text.size();) {
    size_t n = Utf8SequenceLength(text.substr(i));
    if (n == 0) return Malformed("line " + std::to_string(line) + ": not valid UTF-8");
    if (text[i] == '\n') ++line;
    i += n;
  }
  return OkStatus();
}

Status CountValue(size_t& count) {
  if (++count > kMaxValues) {
    return TooLarge("the file has more than " + std::to_string(kMaxValues) + " values");
  }
  return OkStatus();
}

}  // namespace internal

namespace {

Status CheckSize(std::string_view text) {
  if (text.size() > kMaxFileBytes) {
    return internal::TooLarge("the file is larger than " + std::to_string(kMaxFileBytes >> 20) +
                              " MiB");
  }
  return OkStatus();
}

std::string_view BaseName(std::string_view path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string_view FormatName(FileFormat format) {
  switch (format) {
    case FileFormat::kEnv:
      return "env";
    case FileFormat::kJson:
      return "json";
    case FileFormat::kYaml:
      return "yaml";
  }
  return "env";
}

StatusOr<FileFormat> FormatForPath(std::string_view path) {
  std::string_view name = BaseName(path);
  if (name.ends_with(".json")) return FileFormat::kJson;
  if (name.ends_with(".yaml") || name.ends_with(".yml")) return FileFormat::kYaml;
  if (name == ".env" || name.starts_with(".env.") || name.ends_with(".env")) {
    return FileFormat::kEnv;
  }
  return InvalidArgument("cannot tell the format from the file name: give --format env|json|yaml");
}

StatusOr<FileFormat> ParseFormatName(std::string_view name) {
  if (name == "env" || name == "dotenv") return FileFormat::kEnv;
  if (name == "json") return FileFormat::kJson;
  if (name == "yaml" || name == "yml") return FileFormat::kYaml;
  return InvalidArgument("unknown format '" + std::string(name.substr(0, 32)) +
                         "': use env, json or yaml");
}

StatusOr<std::string> EncryptFile(std::string_view text, FileFormat format, const FileKey& key,
                                  Env& env) {
  KH_RETURN_IF_ERROR(CheckSize(text));
  StatusOr<std::string> out = InvalidArgument("unknown format");
  switch (format) {
    case FileFormat::kEnv:
      out = internal::EncryptEnv(text, key, env);
      break;
    case FileFormat::kJson:
      out = internal::EncryptJson(text, key, env);
      break;
    case FileFormat::kYaml:
      out = internal::EncryptYaml(text, key, env);
      break;
  }
  // Sealed values are longer than their plaintext: a file that would not decrypt again is not
  // written (with --in-place its plaintext would be gone for good).
  if (out.ok() && out->size() > kMaxFileBytes) {
    OPENSSL_cleanse(out->data(), out->size());
    return internal::TooLarge("encrypted, the file would be larger than " +
                              std::to_string(kMaxFileBytes >> 20) + " MiB, which decrypt refuses");
  }
  return out;
}

StatusOr<std::string> DecryptFile(std::string_view text, FileFormat format, const FileKey& key) {
  KH_RETURN_IF_ERROR(CheckSize(text));
  switch (format) {
    case FileFormat::kEnv:
      return internal::DecryptEnv(text, key);
    case FileFormat::kJson:
      return internal::DecryptJson(text, key);
    case FileFormat::kYaml:
      return internal::DecryptYaml(text, key);
  }
  return InvalidArgument("unknown format");
}

}  // namespace keyhold::filecrypt

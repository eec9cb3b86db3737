#include "filecrypt/file_crypt.h"

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
  switch (format) {
    case FileFormat::kEnv:
      return internal::EncryptEnv(text, key, env);
    case FileFormat::kJson:
      return internal::EncryptJson(text, key, env);
    case FileFormat::kYaml:
      return internal::EncryptYaml(text, key, env);
  }
  return InvalidArgument("unknown format");
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

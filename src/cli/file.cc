// `keyhold file encrypt|decrypt|keygen`: seals the values of a .env, JSON or YAML file so that
// it can be committed (docs/file-encryption.md). The file key comes from, in order of
// precedence: --key-file PATH (mode 0600, owned by this user, else refused), --key-secret
// MOUNT/PATH#FIELD (read from keyhold's secrets at KEYHOLD_ADDR with KEYHOLD_TOKEN), or the
// KEYHOLD_FILE_KEY variable; each holds the base64 of 32 bytes. No value is ever printed except
// as the output of decrypt.
//
// Exit codes: 0 done; 1 the encrypted file does not verify (changed, or made with another key):
// nothing is written; 2 bad usage or input (unreadable, malformed, oversized, already encrypted
// or not encrypted, a refused key file); 3 the key could not be read from the server.
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/client.h"
#include "cli/commands.h"
#include "core/secret_path.h"
#include "crypto/system_env.h"
#include "filecrypt/file_crypt.h"

namespace keyhold::cli {
namespace {

using nlohmann::json;

constexpr int kExitVerifyFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitKeyServer = 3;
constexpr size_t kMaxKeyFileBytes = 4096;

struct FileFlags {
  std::string file;
  std::string format;
  std::string key_file;
  std::string key_secret;
  bool in_place = false;
  // keygen
  std::string out;
  std::string secret;
  bool print = false;
};

// A failure and the exit code it gives.
struct Failure {
  Status status;
  int code = kExitUsage;
};

int Fail(const Failure& f, std::string_view context = "") {
  std::string where = context.empty() ? "" : std::string(context) + ": ";
  std::fprintf(stderr, "error: %s%s\n", where.c_str(), f.status.message().c_str());
  return f.code;
}

struct SecretRef {
  std::string mount;
  std::string path;
  std::string field;
};

StatusOr<SecretRef> ParseSecretRef(std::string_view text) {
  SecretRef ref;
  if (size_t hash = text.find('#'); hash != std::string_view::npos) {
    ref.field = std::string(text.substr(hash + 1));
    text = text.substr(0, hash);
  }
  size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    ref.mount = std::string(text.substr(0, slash));
    ref.path = std::string(text.substr(slash + 1));
  }
  if (!IsValidMountName(ref.mount) || !IsValidSecretPath(ref.path)) {
    return InvalidArgument("write the key's secret as MOUNT/PATH#FIELD, e.g. secret/ci/files#key");
  }
  return ref;
}

// Reads a key file, refusing one that others could read or that another user owns.
StatusOr<filecrypt::FileKey> KeyFromFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return InvalidArgument("cannot open the key file " + path + ": " + std::strerror(errno));
  struct stat st {};
  std::string text(kMaxKeyFileBytes, '\0');
  ssize_t n = -1;
  bool safe = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0077) == 0 &&
              st.st_uid == ::geteuid();
  if (safe) n = ::read(fd, text.data(), text.size());
  ::close(fd);
  if (!safe) {
    return InvalidArgument("the key file " + path +
                           " must be a regular file with mode 0600 owned by the user running "
                           "keyhold (chmod 600 it)");
  }
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  auto key = filecrypt::FileKey::FromBase64(text);
  OPENSSL_cleanse(text.data(), text.size());
  if (!key.ok()) return InvalidArgument("the key file " + path + ": " + key.status().message());
  return key;
}

StatusOr<filecrypt::FileKey> KeyFromSecret(const std::string& spec, int& code) {
  code = kExitUsage;
  KH_ASSIGN_OR_RETURN(SecretRef ref, ParseSecretRef(spec));
  KH_ASSIGN_OR_RETURN(ApiClient client, ApiClient::FromEnvironment());
  auto r = client.Vault("GET", "/v1/" + ref.mount + "/data/" + ref.path, nullptr);
  code = kExitKeyServer;
  if (!r.ok()) return r.status();
  if (r->http_status != 200) {
    return NotFound("cannot read the key at " + ref.mount + "/" + ref.path + " (" +
                    std::to_string(r->http_status) + ")");
  }
  // The value is wiped where it lies in the answer: no copy of it is made.
  json* data = nullptr;
  if (json& b = r->body; b.is_object() && b.contains("data") && b["data"].is_object() &&
                         b["data"].contains("data") && b["data"]["data"].is_object()) {
    data = &b["data"]["data"];
  }
  json* value = nullptr;
  if (data && !ref.field.empty() && data->contains(ref.field)) {
    value = &(*data)[ref.field];
  } else if (data && ref.field.empty() && data->size() == 1) {
    value = &data->begin().value();
  }
  if (value == nullptr || !value->is_string()) {
    return NotFound(ref.mount + "/" + ref.path +
                    (ref.field.empty() ? " has several fields: name one with #FIELD"
                                       : " has no string field '" + ref.field + "'"));
  }
  std::string& text = value->get_ref<std::string&>();
  auto key = filecrypt::FileKey::FromBase64(text);
  OPENSSL_cleanse(text.data(), text.size());
  if (!key.ok()) return InvalidArgument(ref.mount + "/" + ref.path + ": " + key.status().message());
  return key;
}

StatusOr<filecrypt::FileKey> ResolveKey(const FileFlags& f, int& code) {
  code = kExitUsage;
  if (!f.key_file.empty() && !f.key_secret.empty()) {
    return InvalidArgument("give either --key-file or --key-secret, not both");
  }
  if (!f.key_file.empty()) return KeyFromFile(f.key_file);
  if (!f.key_secret.empty()) return KeyFromSecret(f.key_secret, code);
  if (const char* env = std::getenv("KEYHOLD_FILE_KEY"); env != nullptr && *env != '\0') {
    auto key = filecrypt::FileKey::FromBase64(env);
    if (!key.ok()) return InvalidArgument("KEYHOLD_FILE_KEY: " + key.status().message());
    return key;
  }
  return InvalidArgument(
      "no file key: give --key-file PATH, --key-secret MOUNT/PATH#FIELD or set KEYHOLD_FILE_KEY "
      "(keyhold file keygen makes one)");
}

// Reads at most one byte past the bound: enough for the library to refuse the input as too large.
StatusOr<std::string> ReadInput(const std::string& file) {
  bool from_stdin = file == "-";
  std::FILE* in = from_stdin ? stdin : std::fopen(file.c_str(), "rb");
  if (in == nullptr) return InvalidArgument("cannot read " + file + ": " + std::strerror(errno));
  std::string text;
  std::array<char, 65536> buf{};
  size_t n = 0;
  while (text.size() <= filecrypt::kMaxFileBytes &&
         (n = std::fread(buf.data(), 1, buf.size(), in)) > 0) {
    text.append(buf.data(), n);
  }
  bool failed = std::ferror(in) != 0;
  if (!from_stdin) std::fclose(in);
  OPENSSL_cleanse(buf.data(), buf.size());
  if (failed) return InvalidArgument("cannot read " + file);
  return text;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Replaces `path` with `data` atomically: a temporary file beside it, with its mode (at most
// 0600 when `plaintext`: a committed encrypted file is often world-readable, its decryption must
// not be), renamed over it once written and synced. On failure the original is untouched and the
// temporary removed.
Status ReplaceFile(const std::string& path, std::string_view data, bool plaintext) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return InvalidArgument("cannot stat " + path);
  std::string tmp = path + ".keyhold-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    return InvalidArgument("cannot create a file beside " + path + ": " + std::strerror(errno));
  const mode_t mode = plaintext ? (st.st_mode & 0600) : (st.st_mode & 07777);
  bool ok = ::fchmod(fd, mode) == 0 && WriteAll(fd, data) && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (ok && ::rename(tmp.c_str(), path.c_str()) == 0) return OkStatus();
  int err = errno;
  ::unlink(tmp.c_str());
  return InvalidArgument("cannot write " + path + ": " + std::strerror(err));
}

StatusOr<filecrypt::FileFormat> ResolveFormat(const FileFlags& f) {
  if (!f.format.empty()) return filecrypt::ParseFormatName(f.format);
  if (f.file == "-")
    return InvalidArgument("give --format env|json|yaml when reading standard input");
  return filecrypt::FormatForPath(f.file);
}

enum class Direction { kEncrypt, kDecrypt };

int Transform(const FileFlags& f, Direction direction) {
  if (f.in_place && f.file == "-") return Fail({InvalidArgument("--in-place needs a file, not -")});
  auto format = ResolveFormat(f);
  if (!format.ok()) return Fail({format.status()});
  int key_code = kExitUsage;
  auto key = ResolveKey(f, key_code);
  if (!key.ok()) return Fail({key.status(), key_code});
  auto text = ReadInput(f.file);
  if (!text.ok()) return Fail({text.status()});
  crypto::SystemEnv env;
  StatusOr<std::string> out = direction == Direction::kEncrypt
                                  ? filecrypt::EncryptFile(*text, *format, *key, env)
                                  : filecrypt::DecryptFile(*text, *format, *key);
  OPENSSL_cleanse(text->data(), text->size());
  if (!out.ok()) {
    int code = filecrypt::IsVerificationFailure(out.status()) ? kExitVerifyFailed : kExitUsage;
    std::fprintf(stderr, "error: %s: %s; nothing was written\n", f.file.c_str(),
                 out.status().message().c_str());
    return code;
  }
  Status written = OkStatus();
  if (f.in_place) {
    written = ReplaceFile(f.file, *out, direction == Direction::kDecrypt);
  } else if (std::fwrite(out->data(), 1, out->size(), stdout) != out->size() ||
             std::fflush(stdout) != 0) {
    written = InvalidArgument("cannot write to standard output");
  }
  OPENSSL_cleanse(out->data(), out->size());
  if (!written.ok()) return Fail({written});
  return 0;
}

int StoreKeyInSecret(const FileFlags& f, const filecrypt::FileKey& key) {
  auto ref = ParseSecretRef(f.secret);
  if (!ref.ok()) return Fail({ref.status()});
  if (ref->field.empty()) ref->field = "key";
  auto client = ApiClient::FromEnvironment();
  if (!client.ok()) return Fail({client.status()});
  std::string encoded = key.ToBase64();
  // cas 0: written only if the secret does not exist yet, so that no key in use is replaced.
  json body = {{"options", {{"cas", 0}}}, {"data", {{ref->field, encoded}}}};
  OPENSSL_cleanse(encoded.data(), encoded.size());
  auto r = client->Vault("POST", "/v1/" + ref->mount + "/data/" + ref->path, body);
  body = nullptr;
  if (!r.ok()) return Fail({r.status(), kExitKeyServer});
  if (r->http_status != 200 && r->http_status != 204) {
    std::string detail = r->http_status == 400 ? "it already exists, or the request was refused"
                                               : "the server refused it";
    return Fail({InvalidArgument("cannot store the key at " + ref->mount + "/" + ref->path + " (" +
                                 std::to_string(r->http_status) + "): " + detail),
                 kExitKeyServer});
  }
  std::fprintf(stderr, "stored a new file key at %s/%s#%s (key id %s)\n", ref->mount.c_str(),
               ref->path.c_str(), ref->field.c_str(), key.Id().c_str());
  return 0;
}

int WriteKeyFile(const std::string& path, const filecrypt::FileKey& key) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Fail({InvalidArgument("cannot create " + path + ": " + std::strerror(errno) +
                                 (errno == EEXIST ? " (an existing key is never replaced)" : ""))});
  }
  std::string line = key.ToBase64() + "\n";
  bool ok = ::fchmod(fd, 0600) == 0 && WriteAll(fd, line) && ::fsync(fd) == 0;
  OPENSSL_cleanse(line.data(), line.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    ::unlink(path.c_str());
    return Fail({InvalidArgument("cannot write " + path)});
  }
  std::fprintf(stderr, "wrote a new file key to %s (key id %s)\n", path.c_str(), key.Id().c_str());
  return 0;
}

int Keygen(const FileFlags& f) {
  int destinations = (f.out.empty() ? 0 : 1) + (f.secret.empty() ? 0 : 1) + (f.print ? 1 : 0);
  if (destinations != 1) {
    return Fail({InvalidArgument("give one of --out FILE, --secret MOUNT/PATH#FIELD or --print")});
  }
  crypto::SystemEnv env;
  filecrypt::FileKey key = filecrypt::FileKey::Generate(env);
  if (!f.out.empty()) return WriteKeyFile(f.out, key);
  if (!f.secret.empty()) return StoreKeyInSecret(f, key);
  std::string line = key.ToBase64() + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  OPENSSL_cleanse(line.data(), line.size());
  return 0;
}

void AddKeyOptions(CLI::App& cmd, FileFlags& f) {
  cmd.add_option("FILE", f.file, "the .env, JSON or YAML file (- for standard input)")->required();
  cmd.add_option("--format", f.format, "env, json or yaml (default: from the file name)");
  cmd.add_option("--key-file", f.key_file,
                 "file holding the base64 file key (mode 0600, owned by you)");
  cmd.add_option("--key-secret", f.key_secret,
                 "read the file key from keyhold's secrets, at MOUNT/PATH#FIELD (with KEYHOLD_ADDR "
                 "and KEYHOLD_TOKEN)");
  cmd.add_flag("-i,--in-place", f.in_place,
               "rewrite FILE (atomically, keeping its mode) instead of printing the result");
}

}  // namespace

void AddFile(CLI::App& app, int& code) {
  static FileFlags f;
  auto* file = app.add_subcommand("file", "encrypt the values of a .env, JSON or YAML file");
  file->require_subcommand(1);
  file->footer(
      "Keys stay in clear, values become ENC[AES256_GCM,...] tokens bound to their key path, and "
      "a\n"
      "MAC over the whole file detects any change. The file key is --key-file, else --key-secret,\n"
      "else KEYHOLD_FILE_KEY (base64 of 32 bytes).\n"
      "Exit codes: 0 done, 1 the file does not verify (changed or another key; nothing written),\n"
      "2 bad usage or input, 3 the key could not be read from the server.");
  auto* encrypt = file->add_subcommand("encrypt", "encrypt every value of FILE (to stdout, or -i)");
  AddKeyOptions(*encrypt, f);
  encrypt->callback([&code] { code = Transform(f, Direction::kEncrypt); });
  auto* decrypt = file->add_subcommand(
      "decrypt", "verify FILE's MAC and decrypt its values (to stdout, or -i)");
  AddKeyOptions(*decrypt, f);
  decrypt->callback([&code] { code = Transform(f, Direction::kDecrypt); });
  auto* keygen = file->add_subcommand("keygen", "make a new 256-bit file key");
  keygen->add_option("--out", f.out, "write it to this new file, mode 0600 (never overwritten)");
  keygen->add_option("--secret", f.secret,
                     "store it in keyhold's secrets at MOUNT/PATH#FIELD (FIELD default: key; "
                     "refused if the secret exists)");
  keygen->add_flag("--print", f.print,
                   "print it (base64) on standard output, e.g. for a CI variable");
  keygen->callback([&code] { code = Keygen(f); });
}

}  // namespace keyhold::cli

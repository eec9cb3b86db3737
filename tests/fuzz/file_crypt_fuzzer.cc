// Fuzzes `keyhold file encrypt|decrypt` (filecrypt/file_crypt.h): the .env, JSON and YAML readers
// and the decryption path.
//
// The first byte picks the syntax ('e' .env, 'j' JSON, 'y' YAML, else by its value modulo 3); the
// rest is the file. With one fixed key, each input is
//   1. decrypted: an error is one of the documented reasons (malformed, too large, not
//      encrypted, wrong key, integrity), and a success means the input carried a MAC made with
//      the key (the corpus holds such files, so the paths after the MAC check are reached);
//   2. encrypted: an accepted file decrypts again, to exactly the input for .env (plus a final
//      newline if it had none), to the same JSON value, and for YAML to a text that encrypts and
//      decrypts to itself; the encrypted text again decrypts after a second encryption is
//      refused as already encrypted.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "filecrypt/file_crypt.h"
#include "fuzz/property.h"

namespace keyhold {
namespace {

using filecrypt::FileFormat;
using fuzz::Require;

// Bytes 0..31, base64: the key the corpus's encrypted seeds were made with.
constexpr std::string_view kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

// Deterministic "randomness": a counter, so an input replays the same way.
class CounterEnv final : public Env {
 public:
  int64_t NowMillis() override { return 0; }
  void RandomBytes(std::span<uint8_t> out) override {
    for (uint8_t& b : out) b = static_cast<uint8_t>(next_++ * 131 + 7);
  }

 private:
  uint64_t next_ = 0;
};

bool IsDocumentedReason(const Status& s) {
  const std::string& r = s.reason();
  return r == filecrypt::kReasonMalformed || r == filecrypt::kReasonTooLarge ||
         r == filecrypt::kReasonNotEncrypted || r == filecrypt::kReasonIntegrity ||
         r == filecrypt::kReasonWrongKey;
}

FileFormat FormatOf(uint8_t b) {
  if (b == 'e') return FileFormat::kEnv;
  if (b == 'j') return FileFormat::kJson;
  if (b == 'y') return FileFormat::kYaml;
  return static_cast<FileFormat>(b % 3);
}

void CheckRoundTrip(std::string_view text, FileFormat format, const filecrypt::FileKey& key,
                    CounterEnv& env) {
  auto sealed = filecrypt::EncryptFile(text, format, key, env);
  if (!sealed.ok()) {
    Require(sealed.status().reason() == filecrypt::kReasonMalformed ||
                sealed.status().reason() == filecrypt::kReasonTooLarge ||
                sealed.status().reason() == filecrypt::kReasonAlreadyEncrypted,
            "encryption failed with an undocumented reason");
    return;
  }
  auto again = filecrypt::EncryptFile(*sealed, format, key, env);
  Require(!again.ok() && again.status().reason() == filecrypt::kReasonAlreadyEncrypted,
          "an encrypted file was encrypted again");
  auto plain = filecrypt::DecryptFile(*sealed, format, key);
  Require(plain.ok(), "a file keyhold encrypted does not decrypt");
  if (format == FileFormat::kEnv) {
    std::string expected(text);
    if (!expected.empty() && !expected.ends_with('\n')) expected += '\n';
    Require(*plain == expected, ".env: decryption does not give back the input");
  } else if (format == FileFormat::kJson) {
    auto before = nlohmann::ordered_json::parse(text, nullptr, false);
    auto after = nlohmann::ordered_json::parse(*plain, nullptr, false);
    Require(!after.is_discarded() && before == after, "JSON: decryption changes the value");
  } else {
    auto resealed = filecrypt::EncryptFile(*plain, format, key, env);
    Require(resealed.ok(), "YAML: a decrypted file does not encrypt again");
    auto replain = filecrypt::DecryptFile(*resealed, format, key);
    Require(replain.ok() && *replain == *plain, "YAML: decrypted text is not stable");
  }
}

}  // namespace
}  // namespace keyhold

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyhold;  // NOLINT(google-build-using-namespace): a harness's entry point
  if (size < 1 || size > 64 * 1024) return 0;
  static const filecrypt::FileKey key = filecrypt::FileKey::FromBase64(kKey).value();
  FileFormat format = FormatOf(data[0]);
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto plain = filecrypt::DecryptFile(text, format, key);
  fuzz::Require(plain.ok() || IsDocumentedReason(plain.status()),
                "decryption failed with an undocumented reason");
  CounterEnv env;
  CheckRoundTrip(text, format, key, env);
  return 0;
}

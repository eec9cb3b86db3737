// Fuzzes the key format (core/key_format.h) and base62 (core/base62.h).
//
// Each input is used three ways:
//   1. as key text for ParseKey: a key it accepts must reassemble from its parts, carry a valid
//      prefix and a base62 body, and its check must be KeyCheck of what precedes it; a key it
//      refuses is refused as "key/malformed" or "key/checksum", nothing else;
//   2. as the randomness, prefix and length of GenerateKey: every generated key parses back to
//      the same prefix and random bytes, and changing any one of its characters makes ParseKey
//      refuse it (CRC32 catches every single-byte change);
//   3. as bytes for Base62EncodeFixed and text for Base62DecodeUint: both round-trip.
// Valid keys are made here at run time, so the corpus holds nothing credential-shaped.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base62.h"
#include "core/key_format.h"
#include "fuzz/property.h"

namespace keyhold {
namespace {

using fuzz::Require;

// Randomness read from the fuzz input, repeating it when it runs out (zeros if it is empty).
class InputEnv final : public Env {
 public:
  explicit InputEnv(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  int64_t NowMillis() override { return 0; }
  void RandomBytes(std::span<uint8_t> out) override {
    for (uint8_t& b : out) b = bytes_.empty() ? 0 : bytes_[next_++ % bytes_.size()];
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t next_ = 0;
};

// Decodes base62 `text` as a big-endian number of exactly `width` bytes; false if it needs more.
bool DecodeFixed(std::string_view text, size_t width, std::vector<uint8_t>& out) {
  out.assign(width, 0);
  for (char c : text) {
    uint32_t carry = static_cast<uint32_t>(kBase62Alphabet.find(c));
    for (size_t i = width; i-- > 0;) {
      uint32_t v = out[i] * 62u + carry;
      out[i] = static_cast<uint8_t>(v);
      carry = v >> 8;
    }
    if (carry != 0) return false;
  }
  return true;
}

void CheckParse(std::string_view key) {
  auto parsed = ParseKey(key);
  if (!parsed.ok()) {
    const std::string& reason = parsed.status().reason();
    Require(parsed.status().code() == StatusCode::kInvalidArgument, "ParseKey: error code");
    Require(reason == "key/malformed" || reason == "key/checksum", "ParseKey: error reason");
    return;
  }
  std::string_view check = key.substr(key.size() - kCheckLength);
  std::string_view payload = key.substr(0, key.size() - kCheckLength);
  std::string rebuilt;
  if (!parsed->prefix.empty()) rebuilt = std::string(parsed->prefix) + "_";
  rebuilt += std::string(parsed->body) + std::string(check);
  Require(rebuilt == key, "ParseKey: parts do not reassemble the key");
  Require(IsValidKeyPrefix(parsed->prefix), "ParseKey: accepted a bad prefix");
  Require(IsBase62(parsed->body) && parsed->body.size() >= Base62LengthFor(kMinKeyBytes),
          "ParseKey: accepted a bad body");
  Require(parsed->body.data() >= key.data() && parsed->body.data() < key.data() + key.size(),
          "ParseKey: body does not point into the key");
  Require(KeyCheck(payload) == check, "ParseKey: accepted a wrong check");
  std::string start = KeyStart(key);
  Require(key.starts_with(start), "KeyStart is not a prefix of the key");
}

void CheckGenerated(std::span<const uint8_t> in) {
  if (in.size() < 2) return;
  static constexpr std::string_view kPrefixChars = "abcXYZ019_";
  const int byte_length = kMinKeyBytes + in[0] % (kMaxKeyBytes - kMinKeyBytes + 1);
  std::string prefix;
  for (size_t i = 0; i < in[1] % (kMaxPrefixLength + 1) && 2 + i < in.size(); ++i) {
    prefix.push_back(kPrefixChars[in[2 + i] % kPrefixChars.size()]);
  }
  std::span<const uint8_t> randomness = in.subspan(2 + prefix.size());
  InputEnv env(randomness);
  std::string key = GenerateKey(env, prefix, byte_length);
  auto parsed = ParseKey(key);
  Require(parsed.ok(), "a generated key does not parse");
  Require(parsed->prefix == prefix, "a generated key parses to another prefix");
  Require(parsed->body.size() == Base62LengthFor(static_cast<size_t>(byte_length)),
          "a generated key's body has the wrong length");

  // The body must be the random bytes, all of them.
  std::vector<uint8_t> random(static_cast<size_t>(byte_length));
  InputEnv again(randomness);
  again.RandomBytes(random);
  std::vector<uint8_t> decoded;
  Require(DecodeFixed(parsed->body, random.size(), decoded) && decoded == random,
          "a generated key's body does not decode to its random bytes");

  // Any single changed character is caught.
  size_t at = (in.size() > 2 ? in[in.size() - 1] : 0) % key.size();
  std::string changed = key;
  changed[at] = static_cast<char>(changed[at] == 'x' ? 'y' : 'x');
  Require(!ParseKey(changed).ok(), "a key with one character changed still parses");
}

void CheckBase62(std::span<const uint8_t> in, std::string_view text) {
  std::span<const uint8_t> bytes = in.first(std::min<size_t>(in.size(), kMaxKeyBytes + 45));
  std::string encoded = Base62EncodeFixed(bytes);
  Require(encoded.size() == Base62LengthFor(bytes.size()), "Base62EncodeFixed: wrong width");
  Require(IsBase62(encoded), "Base62EncodeFixed: not base62");
  std::vector<uint8_t> decoded;
  Require(DecodeFixed(encoded, bytes.size(), decoded) &&
              std::equal(decoded.begin(), decoded.end(), bytes.begin(), bytes.end()),
          "Base62EncodeFixed does not round-trip");

  std::string_view digits = text.substr(0, std::min<size_t>(text.size(), 11));
  uint64_t value = 0;
  if (Base62DecodeUint(digits, &value)) {
    Require(Base62EncodeUint(value, digits.size()) == digits, "Base62DecodeUint: no round trip");
  } else {
    Require(digits.empty() || digits.size() > 10 || !IsBase62(digits),
            "Base62DecodeUint refused a short base62 string");
  }
}

}  // namespace
}  // namespace keyhold

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  keyhold::CheckParse(text);
  keyhold::CheckGenerated(in);
  keyhold::CheckBase62(in, text);
  return 0;
}

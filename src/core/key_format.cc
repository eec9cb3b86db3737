#include "core/key_format.h"

#include <zlib.h>

#include <vector>

#include "core/base62.h"

namespace keyhold {

bool IsValidKeyPrefix(std::string_view prefix) {
  if (prefix.size() > kMaxPrefixLength) return false;
  for (char c : prefix) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string KeyCheck(std::string_view text) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size()));
  return Base62EncodeUint(static_cast<uint64_t>(crc), kCheckLength);
}

std::string GenerateKey(Env& env, std::string_view prefix, int byte_length) {
  std::vector<uint8_t> bytes(static_cast<size_t>(byte_length));
  env.RandomBytes(bytes);
  std::string key;
  if (!prefix.empty()) {
    key.append(prefix);
    key.push_back('_');
  }
  key += Base62EncodeFixed(bytes);
  std::fill(bytes.begin(), bytes.end(), uint8_t{0});
  key += KeyCheck(key);
  return key;
}

StatusOr<ParsedKey> ParseKey(std::string_view key) {
  const size_t min_body = Base62LengthFor(kMinKeyBytes);
  const size_t max_len = kMaxPrefixLength + 1 + Base62LengthFor(kMaxKeyBytes) + kCheckLength;
  if (key.size() < min_body + kCheckLength || key.size() > max_len) {
    return InvalidArgument("the key has the wrong length", "key/malformed");
  }
  std::string_view payload = key.substr(0, key.size() - kCheckLength);
  std::string_view check = key.substr(key.size() - kCheckLength);
  ParsedKey parsed;
  size_t sep = payload.rfind('_');
  if (sep == std::string_view::npos) {
    parsed.body = payload;
  } else {
    parsed.prefix = payload.substr(0, sep);
    parsed.body = payload.substr(sep + 1);
    if (parsed.prefix.empty() || !IsValidKeyPrefix(parsed.prefix)) {
      return InvalidArgument("the key has a malformed prefix", "key/malformed");
    }
  }
  if (parsed.body.size() < min_body || !IsBase62(parsed.body) || !IsBase62(check)) {
    return InvalidArgument("the key is not in keyhold's format", "key/malformed");
  }
  if (KeyCheck(payload) != check) {
    return InvalidArgument("the key's check characters do not match", "key/checksum");
  }
  return parsed;
}

std::string KeyStart(std::string_view key) {
  size_t sep = key.rfind('_');
  size_t body_at = sep == std::string_view::npos ? 0 : sep + 1;
  return std::string(key.substr(0, std::min(key.size(), body_at + kStartBodyChars)));
}

}  // namespace keyhold

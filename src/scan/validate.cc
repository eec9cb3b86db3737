// Validators: checksums and embedded structure of provider tokens.
#include "scan/validate.h"

#include <array>
#include <cstdint>

#include "core/key_format.h"

namespace keyhold::scan {
namespace {

constexpr std::array<int8_t, 256> kBase64Values = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (size_t i = 0; i < 26; ++i) {
    t['A' + i] = static_cast<int8_t>(i);
    t['a' + i] = static_cast<int8_t>(26 + i);
  }
  for (size_t i = 0; i < 10; ++i) t['0' + i] = static_cast<int8_t>(52 + i);
  t['+'] = t['-'] = 62;
  t['/'] = t['_'] = 63;
  return t;
}();

bool PrintableJsonObject(std::string_view text) {
  if (text.size() < 8 || !text.starts_with("{\"")) return false;
  for (unsigned char c : text) {
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
    if (c == 0x7f) return false;
  }
  return true;
}

// The part of `secret` from its first "eyJ" (base64 of `{"`) up to a separator: '.', '_'
// between base64 parts, or '=' padding.
std::string_view EmbeddedBase64(std::string_view secret) {
  size_t at = secret.find("eyJ");
  if (at == std::string_view::npos) return {};
  size_t end = at;
  while (end < secret.size() && secret[end] != '.' && secret[end] != '_' && secret[end] != '=' &&
         kBase64Values[static_cast<unsigned char>(secret[end])] >= 0) {
    ++end;
  }
  return secret.substr(at, end - at);
}

bool GithubCrc32(std::string_view secret) {
  size_t sep = secret.rfind('_');
  std::string_view payload = sep == std::string_view::npos ? secret : secret.substr(sep + 1);
  if (payload.size() <= 6) return false;
  std::string_view body = payload.substr(0, payload.size() - 6);
  return KeyCheck(body) == payload.substr(payload.size() - 6);
}

bool Jwt(std::string_view secret) {
  size_t dot1 = secret.find('.');
  if (dot1 == std::string_view::npos) return false;
  size_t dot2 = secret.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return false;
  auto header = DecodeBase64Prefix(secret.substr(0, dot1));
  auto payload = DecodeBase64Prefix(secret.substr(dot1 + 1, dot2 - dot1 - 1));
  return header && payload && PrintableJsonObject(*header) &&
         header->find("\"alg\"") != std::string::npos && PrintableJsonObject(*payload);
}

bool Base64Json(std::string_view secret) {
  auto decoded = DecodeBase64Prefix(EmbeddedBase64(secret));
  return decoded && PrintableJsonObject(*decoded);
}

// BIP 173's checksum over the human-readable part and the 5-bit data values.
uint32_t Bech32Polymod(std::string_view hrp, std::string_view data_values) {
  constexpr std::array<uint32_t, 5> kGen = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd,
                                            0x2a1462b3};
  uint32_t chk = 1;
  auto step = [&](uint32_t v) {
    uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; ++i) {
      if ((top >> i) & 1) chk ^= kGen[static_cast<size_t>(i)];
    }
  };
  for (char c : hrp) step(static_cast<uint32_t>(static_cast<unsigned char>(c) >> 5));
  step(0);
  for (char c : hrp) step(static_cast<uint32_t>(static_cast<unsigned char>(c) & 31));
  for (char v : data_values) step(static_cast<uint32_t>(v));
  return chk;
}

bool AgeBech32(std::string_view secret) {
  constexpr std::string_view kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  size_t sep = secret.rfind('1');
  if (sep == std::string_view::npos || sep + 7 > secret.size()) return false;
  std::string hrp;
  for (char c : secret.substr(0, sep))
    hrp.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  std::string values;
  for (char c : secret.substr(sep + 1)) {
    size_t v = kCharset.find(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (v == std::string_view::npos) return false;
    values.push_back(static_cast<char>(v));
  }
  return Bech32Polymod(hrp, values) == 1;
}

bool DiscordBotToken(std::string_view secret) {
  size_t dot = secret.find('.');
  if (dot == std::string_view::npos) return false;
  auto id = DecodeBase64Prefix(secret.substr(0, dot));
  if (!id || id->size() < 17 || id->size() > 20) return false;
  for (char c : *id) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> DecodeBase64Prefix(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (unsigned char c : text) {
    int8_t v = kBase64Values[c];
    if (v < 0) break;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    ++n;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (n % 4 == 1) return std::nullopt;
  return out;
}

std::optional<Validator> ParseValidator(std::string_view name) {
  if (name == "github-crc32") return Validator::kGithubCrc32;
  if (name == "jwt") return Validator::kJwt;
  if (name == "base64-json") return Validator::kBase64Json;
  if (name == "age-bech32") return Validator::kAgeBech32;
  if (name == "discord-bot-token") return Validator::kDiscordBotToken;
  return std::nullopt;
}

std::string ValidatorNames() {
  return "\"github-crc32\", \"jwt\", \"base64-json\", \"age-bech32\", \"discord-bot-token\"";
}

bool Validate(Validator v, std::string_view secret) {
  switch (v) {
    case Validator::kNone:
      return true;
    case Validator::kGithubCrc32:
      return GithubCrc32(secret);
    case Validator::kJwt:
      return Jwt(secret);
    case Validator::kBase64Json:
      return Base64Json(secret);
    case Validator::kAgeBech32:
      return AgeBech32(secret);
    case Validator::kDiscordBotToken:
      return DiscordBotToken(secret);
  }
  return false;
}

}  // namespace keyhold::scan

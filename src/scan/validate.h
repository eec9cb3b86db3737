// Validators: structure checks a rule's match must pass before it is reported, for formats
// whose provider built one in (a checksum, an encoded header). They turn a look-alike of the
// right length and alphabet into a non-finding.
//
//   validate = "github-crc32"   # in a rule: the last 6 characters are the CRC32 of the body
//
// Each function is pure and takes the secret as the rule extracted it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace keyhold::scan {

enum class Validator {
  kNone,
  // GitHub's and npm's tokens: `<prefix>_<30 base62><6 base62 check>`, the check being the
  // CRC32 of the 30 characters, base62 encoded ([0-9A-Za-z]) and left-padded with '0'.
  kGithubCrc32,
  // A JSON Web Token: three base64url parts; the first decodes to a JSON header naming "alg",
  // the second to a JSON object.
  kJwt,
  // The token embeds base64 of a JSON object (it starts "eyJ" after a prefix): that part must
  // decode to printable JSON.
  kBase64Json,
  // An age X25519 identity: bech32 ("AGE-SECRET-KEY-1" + data + checksum), checksum verified.
  kAgeBech32,
  // A Discord bot token: its first part is the base64 of the bot's numeric user id.
  kDiscordBotToken,
};

// Parses a `validate` value. nullopt if the name is unknown.
std::optional<Validator> ParseValidator(std::string_view name);
// The names ParseValidator accepts, for error messages.
std::string ValidatorNames();

// True if `secret` passes `v` (always true for kNone).
bool Validate(Validator v, std::string_view secret);

// Decodes standard or URL-safe base64, with or without padding, up to the first character
// outside both alphabets. nullopt on a length no encoder produces.
std::optional<std::string> DecodeBase64Prefix(std::string_view text);

}  // namespace keyhold::scan

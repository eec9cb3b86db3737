// The audit log's hash chain: how an entry is encoded, how it is linked to the one before it, and
// how a sequence of stored entries is checked for any change, removal, insertion or reordering.
//
// Each entry carries its position (`seq`, from 1, without gaps) and the hash of the chain up to
// and including it: hash(n) = SHA-256("keyhold-audit-v1" || hash(n-1) || Encode(entry n)), with
// hash(0) the 32 zero bytes (or, for a log whose older entries were archived, the hash of the last
// archived entry). Changing any field of an entry changes its hash and every hash after it, so a
// verifier holding the entries and their hashes finds the first entry that does not fit.
//
//   ChainHash prev = kGenesis;
//   for (AuditEntry& e : entries) { e.hash = LinkHash(prev, e); prev = e.hash; }
//   if (auto bad = VerifyChain(entries, kGenesis, 1)) report bad->seq, bad->reason;
//
// Truncation at the end leaves a valid shorter chain: only a copy of a later hash (a signed
// checkpoint kept elsewhere) shows it, which is why VerifyChain can be given the hash the chain
// must end with.
//
// Pure functions; safe to call from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/context.h"

namespace keyhold::audit {

using ChainHash = std::array<uint8_t, 32>;
inline constexpr ChainHash kGenesis{};

// One audited event. No field ever holds key or secret material: sensitive strings are recorded
// as "hmac-sha256:<hex>" by the writer before they get here.
struct AuditEntry {
  int64_t seq = 0;      // position in the chain, from 1
  int64_t time_ms = 0;  // when it happened, ms since the epoch
  std::string actor;    // root key id; empty for the server itself
  std::string action;   // e.g. "key.create", "key.delete", "secret.read"
  std::string target;   // e.g. a key id
  std::string outcome;  // "success", "denied", "failed"
  std::string client_ip;
  std::string request_id;
  std::string details_json;  // before/after of non-secret fields, JSON object text or empty
  ChainHash hash{};          // hash of the chain up to and including this entry
};

// The bytes an entry is hashed over: seq and time as 8 bytes big-endian, then each string field
// as its length (4 bytes big-endian) and its bytes, in the order declared above. Distinct entries
// never share an encoding. `hash` is not part of it.
std::string Encode(const AuditEntry& entry);

// The hash of the chain after appending `entry` to a chain whose hash is `previous`.
ChainHash LinkHash(const ChainHash& previous, const AuditEntry& entry);

struct ChainBreak {
  int64_t seq = 0;  // the first entry that does not fit (the seq expected there, if one is missing)
  std::string reason;
};

// Checks `entries` (as read, in order) against `anchor`, the hash before the first of them, whose
// seq must be `first_seq`. Returns nothing if every entry has the next seq and the hash its
// predecessors and its own fields give; otherwise the first entry that breaks the chain and why
// ("changed", "missing or reordered", "inserted"). If `expected_end` is given, a chain that is
// whole but ends on another hash (truncated, or rewritten from some point on) is reported at the
// seq after its last entry.
std::optional<ChainBreak> VerifyChain(std::span<const AuditEntry> entries, const ChainHash& anchor,
                                      int64_t first_seq,
                                      const std::optional<ChainHash>& expected_end = std::nullopt);

// How a sensitive string (a leaked key's text, a meta object that may hold personal data) is
// recorded: "hmac-sha256:" and the hex HMAC of `value` under the installation's audit salt. Equal
// values give equal digests within one installation, so entries can be correlated, but the value
// cannot be read back, and without the salt not even guessed.
std::string SensitiveDigest(std::span<const uint8_t> salt, std::string_view value);

// An entry for what `ctx`'s caller did at `time_ms`: actor, client address and request id from
// the context, outcome "success" unless given (seq and hash are the store's to set).
AuditEntry EntryFor(const RequestContext& ctx, int64_t time_ms, std::string action,
                    std::string target, std::string details_json, std::string outcome = "success");

}  // namespace keyhold::audit

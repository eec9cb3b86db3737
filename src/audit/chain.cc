#include "audit/chain.h"

#include <cstring>

#include "crypto/crypto.h"

namespace keyhold::audit {
namespace {

constexpr std::string_view kDomain = "keyhold-audit-v1";

void PutUint(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutString(std::string& out, const std::string& s) {
  PutUint(out, s.size(), 4);
  out += s;
}

}  // namespace

std::string Encode(const AuditEntry& e) {
  std::string out;
  out.reserve(64 + e.actor.size() + e.action.size() + e.target.size() + e.outcome.size() +
              e.client_ip.size() + e.request_id.size() + e.details_json.size());
  PutUint(out, static_cast<uint64_t>(e.seq), 8);
  PutUint(out, static_cast<uint64_t>(e.time_ms), 8);
  for (const std::string* field :
       {&e.actor, &e.action, &e.target, &e.outcome, &e.client_ip, &e.request_id, &e.details_json}) {
    PutString(out, *field);
  }
  return out;
}

ChainHash LinkHash(const ChainHash& previous, const AuditEntry& entry) {
  std::string input(kDomain);
  input.append(reinterpret_cast<const char*>(previous.data()), previous.size());
  input += Encode(entry);
  return crypto::Sha256(input);
}

std::optional<ChainBreak> VerifyChain(std::span<const AuditEntry> entries, const ChainHash& anchor,
                                      int64_t first_seq,
                                      const std::optional<ChainHash>& expected_end) {
  ChainHash previous = anchor;
  int64_t want = first_seq;
  for (const AuditEntry& e : entries) {
    if (e.seq > want) return ChainBreak{want, "missing or reordered"};
    if (e.seq < want) return ChainBreak{e.seq, "inserted"};
    if (!crypto::ConstantTimeEqual(LinkHash(previous, e), e.hash)) {
      return ChainBreak{e.seq, "changed"};
    }
    previous = e.hash;
    ++want;
  }
  if (expected_end && !crypto::ConstantTimeEqual(*expected_end, previous)) {
    return ChainBreak{want, "the chain does not end where the checkpoint says"};
  }
  return std::nullopt;
}

std::string SensitiveDigest(std::span<const uint8_t> salt, std::string_view value) {
  return "hmac-sha256:" + crypto::HexEncode(crypto::HmacSha256(salt, value));
}

AuditEntry EntryFor(const RequestContext& ctx, int64_t time_ms, std::string action,
                    std::string target, std::string details_json, std::string outcome) {
  AuditEntry e;
  e.time_ms = time_ms;
  e.actor = ctx.actor.key_id;
  e.action = std::move(action);
  e.target = std::move(target);
  e.outcome = std::move(outcome);
  e.client_ip = ctx.client_ip;
  e.request_id = ctx.request_id;
  e.details_json = std::move(details_json);
  return e;
}

}  // namespace keyhold::audit

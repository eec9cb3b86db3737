// Signed checkpoints of the audit chain: "at time T the chain held S entries and ended on hash H",
// signed with Ed25519, so that a copy kept outside keyhold (a log shipper, a SIEM, a printout)
// proves later that the log was not truncated or rewritten before S.
//
// The signing key is derived from the server's master key, so it survives restarts and is the
// same on every node of one installation; its public half is in every checkpoint and can be
// pinned by whoever keeps the copies (`keyhold audit verify --public-key`).
//
//   CheckpointSigner signer = CheckpointSigner::FromMasterKey(master_key).value();
//   Checkpoint cp = signer.Sign(tail_seq, tail_hash, now_ms);
//   std::string line = ToJson(cp);                      // what the export and the log carry
//   Checkpoint back = ParseCheckpoint(line).value();
//   if (!VerifySignature(back)) reject;
//
// Thread-safety: a signer may be used from several threads; the free functions are pure.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "audit/chain.h"
#include "core/status.h"

namespace keyhold::audit {

using PublicKey = std::array<uint8_t, 32>;  // raw Ed25519
using Signature = std::array<uint8_t, 64>;  // raw Ed25519

struct Checkpoint {
  int64_t seq = 0;      // entries 1..seq are covered
  ChainHash hash{};     // the chain's hash after entry `seq`
  int64_t time_ms = 0;  // when it was signed
  PublicKey public_key{};
  Signature signature{};
};

// The bytes a checkpoint's signature covers: a domain string, then seq and time as 8 bytes
// big-endian around the hash.
std::string SignedBytes(const Checkpoint& cp);

class CheckpointSigner {
 public:
  // Derives the Ed25519 key from the 32-byte master key (HMAC-SHA256 with a fixed label, so it
  // is independent of every other key keyhold derives). Errors: kInvalidArgument if the master
  // key is not 32 bytes; kInternal if OpenSSL refuses the key.
  static StatusOr<CheckpointSigner> FromMasterKey(std::span<const uint8_t> master_key);

  Checkpoint Sign(int64_t seq, const ChainHash& hash, int64_t time_ms) const;
  const PublicKey& public_key() const { return public_key_; }

 private:
  CheckpointSigner() = default;
  std::shared_ptr<void> key_;  // EVP_PKEY
  PublicKey public_key_{};
};

// True if `cp.signature` is a valid signature of SignedBytes(cp) by `cp.public_key`.
bool VerifySignature(const Checkpoint& cp);

// One JSON object on one line: {"type":"checkpoint","seq":…,"hash":"<hex>","time":…,
// "publicKey":"<hex>","signature":"<hex>"}.
std::string ToJson(const Checkpoint& cp);
// Parses what ToJson writes (other members are ignored). Errors: kInvalidArgument naming what is
// missing or malformed.
StatusOr<Checkpoint> ParseCheckpoint(std::string_view json_line);

// What checking the chain found.
struct ChainReport {
  int64_t entries = 0;              // entries read
  int64_t checkpoints = 0;          // signed checkpoints checked (stored and given)
  ChainHash head{};                 // the hash of the last entry read
  std::optional<PublicKey> signer;  // the key the checkpoints are signed with
  // The first entry that is not what the chain and the checkpoints say it must be; nothing if
  // the log is whole.
  std::optional<ChainBreak> first_bad;
};

}  // namespace keyhold::audit

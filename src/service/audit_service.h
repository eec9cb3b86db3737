// AuditService: reading and checking the audit log that every state change writes (the entries
// themselves are written by the services that make the changes, in the same store transaction;
// see store/store.h "the audit log" and audit/chain.h).
//
//   auto audit = AuditService::Create(store, env);
//   KH_ASSIGN_OR_RETURN(AuditPage page, audit->ListEvents(ctx, {.action = "key.*"}, "", 50));
//   KH_ASSIGN_OR_RETURN(ChainReport r, audit->VerifyChain(ctx));
//   if (r.first_bad) -> the entry r.first_bad->seq was changed, removed, inserted or moved
//
// Permissions: `audit.*.read_event` to list, `audit.*.verify_chain` to verify; signing a
// checkpoint is the server's own act (no actor).
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audit/chain.h"
#include "audit/checkpoint.h"
#include "core/context.h"
#include "core/env.h"
#include "core/status.h"

namespace keyhold::store {
class Store;
}

namespace keyhold::service {

// Which events ListEvents returns: those matching every filter given.
struct AuditFilter {
  std::string actor;   // root key id
  std::string action;  // "key.create", or a family such as "key.*"
  std::string target;  // e.g. a key id
  std::optional<int64_t> since_ms;
  std::optional<int64_t> until_ms;
};

struct AuditPage {
  std::vector<audit::AuditEntry> events;  // newest first
  std::string cursor;                     // pass back for the next (older) page
  bool has_more = false;
};

using audit::ChainReport;

// Checks the whole chain in `store`, page by page, against its own hashes, against the signed
// checkpoints stored with it and against `external` ones (copies kept elsewhere, which catch a
// truncated or rewritten log). A checkpoint whose signature is bad, or (if `pinned` is given)
// that is signed by another key, is reported as a break at its seq. Works on a read-only store.
// Errors: kUnavailable if the store cannot be read; kInternal if it holds corrupt rows.
StatusOr<ChainReport> VerifyStoredChain(store::Store& store,
                                        std::span<const audit::Checkpoint> external = {},
                                        const std::optional<audit::PublicKey>& pinned = {});

class AuditService {
 public:
  // `store` and `env` must outlive the service.
  static std::unique_ptr<AuditService> Create(store::Store& store, Env& env);
  virtual ~AuditService() = default;

  // Events matching `filter`, newest first, `limit` (1..1000) at a time from `cursor` ("" for
  // the newest). Errors: kPermissionDenied without audit.*.read_event; kInvalidArgument for a bad
  // cursor; kUnavailable.
  virtual StatusOr<AuditPage> ListEvents(const RequestContext& ctx, const AuditFilter& filter,
                                         const std::string& cursor, int limit) = 0;

  // VerifyStoredChain over the live store. Errors: kPermissionDenied without
  // audit.*.verify_chain; as VerifyStoredChain.
  virtual StatusOr<ChainReport> VerifyChain(const RequestContext& ctx) = 0;

  // Appends an entry (action "request.denied", outcome "denied") saying that `ctx`'s actor was
  // refused `operation`, which is the target: what the caller named could be anything, a key's
  // text included. At most one entry a minute per actor and operation; the refusals in between
  // are counted in the next one's details ("alsoDenied"). Errors: kUnavailable.
  virtual Status RecordRefusal(const RequestContext& ctx, const std::string& operation) = 0;
  // Whether RecordRefusal(ctx, operation) would write now (it may block on the store); if not,
  // counts the refusal as RecordRefusal would.
  virtual bool RefusalDue(const RequestContext& ctx, const std::string& operation) = 0;

  // Signs and stores a checkpoint of the chain's current end, unless the newest stored checkpoint
  // already covers it. Returns the checkpoint written, or nothing. Errors: kUnavailable.
  virtual StatusOr<std::optional<audit::Checkpoint>> Checkpoint(
      const audit::CheckpointSigner& signer) = 0;
};

}  // namespace keyhold::service

// Store: keyhold's durable state behind one interface.
//
// Implementations (SQLite now, PostgreSQL later) must make every write atomic and durable before
// it returns OK: a caller that saw OK may acknowledge the write to its client, and a crash
// afterwards must not lose it. Nothing engine-specific crosses this interface, not even in error
// messages (the engine's words go in Status::log_detail()).
//
// The store is the authority on credit balances: SpendCredits and AdjustCredits read, change and
// write a balance in one transaction, so several processes sharing a store never spend more than
// a balance holds. Callers keep balances in memory only as a cache of what these calls return.
//
// Every write also records what it changed in a change feed (ChangesSince, below), so that a
// process caching the store's state — another node — can follow it: load a Snapshot, then read
// the changes after the Snapshot's change_seq and re-read the records they name.
//
//   KH_ASSIGN_OR_RETURN(auto store, SqliteStore::Open(path));
//   WriteBatch b; b.put_keys.push_back(rec);
//   KH_RETURN_IF_ERROR(store->Apply(b));
//   KH_ASSIGN_OR_RETURN(SpendResult r, store->SpendCredits(rec.id, /*cost=*/1, now_ms, 0));
//   if (!r.spent) -> USAGE_EXCEEDED
//
// Thread-safety: all methods may be called from any thread; implementations serialize writes.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/alert.h"
#include "audit/chain.h"
#include "audit/checkpoint.h"
#include "core/credits.h"
#include "core/status.h"
#include "crypto/keyring.h"
#include "store/records.h"

namespace keyhold::store {

// Everything live: apis not deleted, keys not deleted, and all identities, permissions, roles.
struct Snapshot {
  std::vector<ApiRecord> apis;
  std::vector<KeyRecord> keys;
  std::vector<IdentityRecord> identities;
  std::vector<PermissionRecord> permissions;
  std::vector<RoleRecord> roles;
  uint64_t change_seq = 0;  // the newest change the snapshot includes: follow on from here
  // Load only: at least the number of key rows stored, deleted ones included (0 if unknown), so
  // that a loader can make room for the keys before they stream in.
  uint64_t key_rows = 0;
};

// What a change touched, and how. Stored as these numbers (docs/storage-schema.md): never
// renumber, only add.
enum class ChangeKind : int32_t {
  kKey = 1,  // a key's fields or links, app or root key
  kApi = 2,
  kIdentity = 3,
  kPermission = 4,
  kRole = 5,               // a role's fields or permission links
  kCredits = 6,            // only a key's credits: balance, refill rule, refill time
  kRatelimitOverride = 7,  // a rate-limit override, by its id
};
enum class ChangeOp : int32_t {
  kPut = 1,     // created or changed: re-read it
  kDelete = 2,  // gone, whether removed or soft-deleted
};

// One entry of the change feed: record `id` of `kind` was written by the change numbered `seq`.
struct Change {
  uint64_t seq = 0;
  ChangeKind kind = ChangeKind::kKey;
  std::string id;
  ChangeOp op = ChangeOp::kPut;
};

// The most changes one ChangesSince call returns.
inline constexpr int kMaxChangesPage = 10'000;

// Sets a key's credits outright: balance, refill rule and refill time. For setting a balance by
// hand; spending and adding go through SpendCredits and AdjustCredits, which read the stored
// balance rather than overwrite it.
struct CreditsUpdate {
  std::string key_id;
  CreditsState credits;
};

// A set of changes applied all together or not at all. Puts are upserts by id; a put of a key
// or role replaces its permission and role links. Deletes are permanent (soft deletes are puts
// with deleted_at set). Order of application: puts, then credit updates, then deletes, then the
// audit entries that record them (a batch of only audit entries records an event that changes
// nothing else, such as a secret read).
struct WriteBatch {
  std::vector<ApiRecord> put_apis;
  std::vector<IdentityRecord> put_identities;
  std::vector<PermissionRecord> put_permissions;
  std::vector<RoleRecord> put_roles;
  std::vector<KeyRecord> put_keys;
  std::vector<CreditsUpdate> credits;
  std::vector<std::string> delete_keys;
  std::vector<std::string> delete_identities;
  std::vector<std::string> delete_permissions;
  std::vector<std::string> delete_roles;
  // Appended to the audit log in this batch's transaction; their seq and hash are the store's to
  // set (see "the audit log" below), whatever the caller left there.
  std::vector<audit::AuditEntry> audit;

  bool empty() const {
    return put_apis.empty() && put_identities.empty() && put_permissions.empty() &&
           put_roles.empty() && put_keys.empty() && credits.empty() && delete_keys.empty() &&
           delete_identities.empty() && delete_permissions.empty() && delete_roles.empty() &&
           audit.empty();
  }
};

// Which audit entries QueryAudit returns: those matching every filter given, newest first.
struct AuditQuery {
  std::string actor;                // exact root key id ("" = any)
  std::string action;               // exact ("key.create") or a family ("key.*"); "" = any
  std::string target;               // exact ("" = any)
  std::optional<int64_t> since_ms;  // time >= since
  std::optional<int64_t> until_ms;  // time < until
  int64_t before_seq = 0;           // cursor: only entries with seq < before_seq (0 = from newest)
  int limit = 100;                  // 1..kMaxAuditPage
};
inline constexpr int kMaxAuditPage = 10'000;

// The newest end of the audit chain: seq 0 and the genesis hash if the log is empty.
struct AuditTail {
  int64_t seq = 0;
  audit::ChainHash hash = audit::kGenesis;
};

// Verifications of one second that share every attribute, counted: the usage log's unit. The
// recorder aggregates a flush's verifications into these, so a busy key costs one row a second
// per client address, not one per request.
struct UsageRow {
  int64_t second_ms = 0;  // start of the second, ms since the epoch (of the minute, once stored)
  std::string key_id;     // empty: no key matched
  std::string identity_id;
  std::string api_id;
  std::string outcome;  // VALID, NOT_FOUND, ...
  std::string client_ip;
  std::string route;      // what the caller asked for, when known (e.g. "GET /tickets")
  std::string tags_json;  // JSON array text; "" for none
  int64_t count = 0;
};

// The usage journal's rows, and how many of its entries could not be read.
struct UsageJournal {
  std::vector<UsageRow> rows;
  size_t unreadable = 0;
};

// Rollup sizes: a bucket is the minute, hour or UTC day a verification fell in.
enum class UsageGranularity : int32_t { kMinute = 1, kHour = 2, kDay = 3 };

// Which verification counts QueryUsage returns: rollups of `granularity` whose bucket starts in
// [since_ms, until_ms), matching every non-empty filter, summed over the attributes not grouped.
struct UsageQuery {
  UsageGranularity granularity = UsageGranularity::kHour;
  int64_t since_ms = 0;
  int64_t until_ms = 0;
  std::vector<std::string> key_ids;
  std::vector<std::string> identity_ids;
  std::vector<std::string> api_ids;
  std::vector<std::string> outcomes;
  bool by_time = false, by_key = false, by_identity = false, by_api = false, by_outcome = false;
  int limit = 1000;  // rows, 1..kMaxUsageRows
};
inline constexpr int kMaxUsageRows = 100'000;

// One result row of QueryUsage: the grouped attributes (others empty / 0) and the count.
struct UsageCount {
  int64_t bucket_ms = 0;
  std::string key_id;
  std::string identity_id;
  std::string api_id;
  std::string outcome;
  int64_t count = 0;
};

// Which alerts ListAlerts returns: those matching every filter given, newest first.
struct AlertQuery {
  std::string kind;                  // exact ("" = any)
  std::optional<bool> acknowledged;  // only acknowledged (true) or open (false) ones
  std::optional<int64_t> since_ms;   // created_at >= since
  std::string before_id;             // cursor: only alerts with id < before_id ("" = newest)
  int limit = 100;                   // 1..kMaxAlertsPage
};
inline constexpr int kMaxAlertsPage = 1000;

// A webhook endpoint. Its signing secrets are stored sealed (crypto::Aes256GcmSeal under a key
// derived from the master key, the endpoint id as associated data); the store never sees them
// in the clear.
struct WebhookEndpointRecord {
  std::string id;  // "wh_..."
  std::string url;
  std::string description;
  std::vector<std::string> kinds;  // alert kinds or families ("anomaly.*"); empty = every kind
  bool enabled = true;
  std::vector<uint8_t> secret_sealed;
  // After a rotation the old secret signs too, until previous_secret_until_ms.
  std::vector<uint8_t> previous_secret_sealed;
  std::optional<int64_t> previous_secret_until_ms;
  std::string disabled_reason;  // why keyhold disabled it ("" if enabled or disabled by hand)
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// Stored as these numbers (docs/storage-schema.md): never renumber, only add.
enum class DeliveryStatus : int32_t { kPending = 1, kDelivered = 2, kFailed = 3 };

// One alert to be sent to one endpoint: the outbox row. Its id is the webhook's message id
// (`webhook-id`), the same on every attempt.
struct DeliveryRecord {
  std::string id;  // "msg_..."
  std::string alert_id;
  std::string endpoint_id;
  DeliveryStatus status = DeliveryStatus::kPending;
  int32_t attempts = 0;
  int64_t next_attempt_ms = 0;   // pending: not before then
  int32_t last_http_status = 0;  // of the last attempt; 0 if none answered
  std::string last_error;        // of the last attempt, for the operator; "" if none
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// The message id of alert `alert_id`'s delivery to endpoint `endpoint_id`.
std::string DeliveryId(std::string_view alert_id, std::string_view endpoint_id);

// --- secrets (records) -----------------------------------------------------------------------

// A KV version 2 mount: a namespace of secrets with its defaults.
struct SecretMountRecord {
  std::string name;
  int32_t max_versions = 0;   // versions kept per secret; 0: 10
  bool cas_required = false;  // every write must give `cas`
  int64_t delete_version_after_ms =
      0;  // a version soft-deletes itself this long after its write; 0: never
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// One version of a secret. Its value is an envelope (crypto/keyring.h): sealed data key and
// ciphertext, never the value itself.
struct SecretVersionRecord {
  int64_t version = 0;  // from 1
  int64_t created_at_ms = 0;
  // Soft-deleted from then on (a time in the future: delete_version_after will delete it then).
  std::optional<int64_t> deleted_at_ms;
  bool destroyed = false;  // the sealed value is gone for good
  int32_t kek_term = 0;
  std::vector<uint8_t> wrapped_key;  // empty when destroyed or read without its value
  std::vector<uint8_t> ciphertext;   // likewise
};

// A secret's metadata and its versions (values not included).
struct SecretRecord {
  std::string mount;
  std::string path;
  int64_t current_version = 0;  // the newest version written; 0 before any
  int64_t oldest_version = 0;   // the oldest version still kept; 0 before any
  int32_t max_versions = 0;     // 0: the mount's
  bool cas_required = false;
  int64_t delete_version_after_ms = 0;  // 0: the mount's
  std::string custom_metadata_json;     // a JSON object of strings; "" for none
  std::optional<int64_t> rotation_period_ms;
  std::optional<int64_t> next_rotation_at_ms;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::vector<SecretVersionRecord> versions;  // kept versions, oldest first, without values
  // A rotation of the held value (service/secret_rotation.h): the staged versions and the
  // progress of the rotation under way. Set only by the rotation methods below; the other
  // writes keep them.
  std::optional<int64_t> pending_version;   // written, not yet current
  std::optional<int64_t> previous_version;  // the current version before the last rotation
  std::string rotation_step;                // the last step done: "", "create", "set" or "test"
  std::string rotation_failure;             // why the last step failed ("" if it did not)
};

// A new version of a secret, sealed by the caller for version expected_current + 1.
struct SecretVersionWrite {
  std::string mount;
  std::string path;
  int64_t expected_current = 0;  // the secret's current version the value was sealed after
  SecretVersionRecord version;   // version, created_at_ms, deleted_at_ms, kek_term, value
};

// How ChangeSecretVersions changes the versions it is given.
enum class SecretVersionOp { kDelete, kUndelete, kDestroy };

// A version whose data key is wrapped by an old keyring term (for re-wrapping).
struct WrappedVersion {
  std::string mount;
  std::string path;
  int64_t version = 0;
  int32_t kek_term = 0;
  std::vector<uint8_t> wrapped_key;
};

inline constexpr int kMaxSecretListPage = 10'000;

// How the last rotation attempt of a secret ended (service/secret_rotation.h). Stored as these
// numbers (docs/storage-schema.md): never renumber, only add.
enum class RotationResult : int32_t {
  kFinished = 1,     // the pending version was made current
  kFailed = 2,       // a step failed; rotating again retries it
  kInterrupted = 3,  // keyhold stopped under a step, or before it started; rotating again retries
  kError = 4,        // the run ended in an error that is no step's (the store could not be written)
};

// The last rotation attempt of one secret: kept across restarts, replaced by the next attempt,
// removed with the secret or by a cancel.
struct RotationOutcomeRecord {
  std::string mount;
  std::string path;
  RotationResult result = RotationResult::kFinished;
  std::string step;   // the step that failed or was interrupted; "" if finished or none started
  std::string error;  // why it did not finish, in words that hold no value; "" if finished
  // When the attempt ended; for one keyhold was killed under (recorded at the next start), when
  // it was queued or its last step started, the last moment it is known to have run.
  int64_t at_ms = 0;
};

// What a rotation run was doing (RotationRunRecord). Stored as these numbers
// (docs/storage-schema.md): never renumber, only add.
enum class RotationRunState : int32_t {
  kQueued = 1,   // accepted, not yet started
  kRunning = 2,  // a step is running
};

// A rotation accepted or under way, written before the caller is answered and before each step,
// and removed once its outcome is stored: one left behind at start names a rotation that keyhold
// stopped without recording how it ended (it was killed).
struct RotationRunRecord {
  std::string mount;
  std::string path;
  RotationRunState state = RotationRunState::kQueued;
  std::string step;   // the step running ("" while queued)
  int64_t at_ms = 0;  // when it was queued, or when the step started
  // The step's command while it runs (pgid 0 and marker "": none), so that a start after
  // keyhold was killed can end what the command left running, and nothing else: its process
  // group, its leader's start time (/proc/PID/stat field 22, clock ticks since boot), the boot it
  // ran in (/proc/sys/kernel/random/boot_id) and the marker of the run (32 hex digits) that the
  // command and all it started carry in their environment (KEYHOLD_ROTATION_RUN).
  int64_t command_pgid = 0;
  int64_t command_start_ticks = 0;
  std::string command_boot_id;
  std::string command_marker;
};

// The end of a rotation run (Store::EndRotationRuns): its run record goes, and its outcome with
// it in one write, so that no run is left behind whose outcome is stored already.
struct RotationRunEnd {
  enum class Outcome {
    kKeep,     // the stored outcome stays as it is
    kReplace,  // `outcome` replaces it
    kRemove,   // it is removed (the steps asked for are done: nothing is left to retry)
  };
  std::string mount;
  std::string path;
  Outcome change = Outcome::kKeep;
  RotationOutcomeRecord outcome;  // with kReplace; its mount and path are the run's
};

// A secret whose rotation is staged: a version is pending.
struct StagedRotationRecord {
  std::string mount;
  std::string path;
  int64_t pending_version = 0;
  std::string rotation_step;     // as SecretRecord's
  std::string rotation_failure;  // as SecretRecord's
  int64_t staged_at_ms = 0;      // when the pending version was written
};

// --- rate-limit overrides (records) ----------------------------------------------------------

// A limit that replaces, for one identifier or a pattern of them, the limit a ratelimit.limit
// call gives for a namespace. At most one per (namespace, identifier).
struct RatelimitOverrideRecord {
  std::string id;              // "rlo_..."
  std::string namespace_name;  // 1..255 characters
  std::string identifier;      // exact, or a pattern where '*' stands for any characters
  int64_t limit = 0;           // 0 admits nothing
  int64_t duration_ms = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};
inline constexpr int kMaxOverridesPage = 10'000;

// Which keys QueryKeyIds returns: application keys matching every filter given, by id.
struct KeyQuery {
  std::string api_id;                       // "" = any
  std::string identity_id;                  // "" = any
  std::string created_by;                   // root key id; "" = any
  std::optional<int64_t> created_since_ms;  // created_at >= since
  std::optional<int64_t> created_until_ms;  // created_at < until
  bool include_revoked = false;  // also keys revoked with a reason (not those merely deleted)
  std::string after_id;          // cursor: only ids > after_id
  int limit = 100;               // 1..kMaxKeyQuery
};
inline constexpr int kMaxKeyQuery = 100'000;

// What SpendCredits did.
// Credits reserved from key `key_id`'s balance when it stood at `last_refill_at`, to be added
// back (Store::GiveBackCredits).
struct CreditsReturn {
  std::string key_id;
  int64_t amount = 0;
  int64_t last_refill_at = 0;
};

struct SpendResult {
  bool spent = false;    // the balance covered the cost and it was taken (always, if unlimited)
  CreditsState credits;  // the key's credits afterwards, with any due refill applied
  int64_t extra = 0;     // taken beyond the cost, to be reserved by the caller (SpendCredits)
};

class Store {
 public:
  virtual ~Store() = default;

  // Receives each live key while the store is being loaded; an error stops the load.
  using KeyVisitor = std::function<Status(KeyRecord&&)>;

  // Reads the live state: everything but the keys into `snap` (whose `keys` stays empty), then
  // each live key, complete with its links, to `on_key` (in no particular order), so that a
  // million keys are never all held as records at once. Everything is read as of one moment, whose
  // newest change is snap.change_seq. Errors: kUnavailable if the store cannot be read; kInternal
  // if what it holds is corrupt; whatever `on_key` returns.
  virtual Status Load(Snapshot& snap, const KeyVisitor& on_key) = 0;

  // The whole live state, keys included (in id order), in one Snapshot (small stores and tests).
  StatusOr<Snapshot> LoadAll() {
    Snapshot snap;
    std::vector<KeyRecord> keys;
    KH_RETURN_IF_ERROR(Load(snap, [&](KeyRecord&& k) {
      keys.push_back(std::move(k));
      return OkStatus();
    }));
    std::sort(keys.begin(), keys.end(),
              [](const KeyRecord& a, const KeyRecord& b) { return a.id < b.id; });
    snap.keys = std::move(keys);
    return snap;
  }

  // Applies `batch` atomically and durably. Errors: kAlreadyExists on a uniqueness conflict
  // (nothing applied), kUnavailable if the store cannot be written (nothing applied).
  virtual Status Apply(const WriteBatch& batch) = 0;

  // Takes `cost` credits from key `key_id`'s balance in one atomic step: first brings the balance
  // up to date with the key's refill rule as of `now_ms` (core/credits.h ApplyRefill), then takes
  // `cost` if the balance covers it (TrySpend: a cost of 0 passes unless the balance is 0).
  // Concurrent spends, from any thread or process sharing the store, are serialized: together
  // they never take more than the balance holds.
  //   - Spent: the new balance, and the refill if one was due, are durable before this returns;
  //     a spend that changes nothing (cost 0, no refill due) writes nothing.
  //   - Refused (spent == false): nothing is written, not even a due refill (the next call
  //     applies it again, to the same effect); `credits` shows the refilled balance.
  //   - Unlimited key (no balance): spent, nothing written, `credits` as stored.
  // `now_ms` may be behind the time of the last refill (another node's clock): no refill is due.
  // A spend that is taken also takes up to `extra` more credits, as many as the balance holds
  // beyond the cost, in the same write (SpendResult::extra): the caller reserves them, to grant
  // later spends without a write. Unlimited keys take no extra.
  // Errors: kInvalidArgument if cost or extra is not in [0, kMaxCredits]; kNotFound if there is
  // no key `key_id` or it is deleted; kUnavailable if the store cannot be read or written.
  // Nothing is spent on any error.
  virtual StatusOr<SpendResult> SpendCredits(const std::string& key_id, int64_t cost,
                                             int64_t now_ms, int64_t extra) = 0;

  // Adds `delta` to key `key_id`'s balance in one atomic step, after bringing it up to date with
  // the refill rule as of `now_ms`: a decrement (delta < 0) stops at 0, an increment may not take
  // the balance above kMaxCredits. Always writes (a delta of 0 stores a due refill), and appends
  // `audit` (if given) to the audit log in the same transaction. Returns the key's credits as
  // stored. Errors, nothing changed: kInvalidArgument if |delta| > kMaxCredits, if the increment
  // would take the balance above kMaxCredits, or if the key is unlimited (it has no balance to
  // change: set one with Apply); kNotFound and kUnavailable as SpendCredits.
  virtual StatusOr<CreditsState> AdjustCredits(const std::string& key_id, int64_t delta,
                                               int64_t now_ms,
                                               const audit::AuditEntry* audit = nullptr) = 0;

  // Adds each return's amount back to its key's balance, all in one transaction, where the balance
  // is still the one it was reserved from: the key exists, has a balance, its last_refill_at is
  // the return's, and no refill is due at `now_ms`. Elsewhere (deleted, made unlimited, set or
  // refilled since) the return is forfeited: adding it would grant what the new balance never
  // held. The sum is capped at kMaxCredits. Returns, per return, the credits as stored
  // afterwards (nullopt where forfeited). Not audited: the balance a key shows does not change.
  // Errors: kUnavailable if the store cannot be written (nothing is given back).
  virtual StatusOr<std::vector<std::optional<CreditsState>>> GiveBackCredits(
      const std::vector<CreditsReturn>& returns, int64_t now_ms) = 0;

  // --- the change feed --------------------------------------------------------------------
  //
  // Each write records, in its own transaction, one Change per record it wrote:
  //   - Apply: one per record in the batch, in the order of application (puts, credit updates,
  //     deletes). A put with deleted_at set (a soft delete of an API or key) is a kDelete: to a
  //     reader the record is gone. Links that go with a deleted permission, role or key are not
  //     listed; the deletion implies them.
  //   - SpendCredits, AdjustCredits: one kCredits kPut when they write. A refused spend, or one
  //     that changes nothing, writes and records nothing.
  //   - TouchLastUsed: nothing. Last-used times are usage metadata written in bulk every few
  //     seconds; a change per key touched would push real changes past the retention horizon.
  // A write that fails records nothing.
  //
  // Order: seqs strictly increase in commit order and a change becomes visible only once every
  // change with a lower seq is, so a reader that has seen seq S never needs to look below S
  // again. Seqs need not be contiguous.
  //
  // Retention: a store keeps at least its newest changes up to a documented count
  // (SqliteOptions::change_retention) and prunes older ones, so the feed does not grow forever;
  // of a single batch larger than that count it may keep only the newest. A reader that falls
  // further behind is told so (kFailedPrecondition) and loads a Snapshot.
  //
  // Cost: a spend's change is one more small row in the transaction that already writes and
  // syncs the balance. bench/store_bench.cc measures it: without the sync (on tmpfs) it adds
  // about 4 us of CPU to a 40 us spend; synced on disk a spend took from 0.16 to 7 ms here, and
  // the row is lost in that spread. So spends are not coalesced: one row per key whose seq moves
  // on with every spend would save rows the retention already bounds, and would cost a delete
  // and an insert per spend instead of an append.

  // Up to `limit` changes with seq > `after_seq`, oldest first; empty when the reader is up to
  // date. Errors: kInvalidArgument if limit is not in [1, kMaxChangesPage];
  // kFailedPrecondition, reason "data/changes_pruned", if changes after `after_seq` have been
  // pruned, or "data/changes_ahead" if `after_seq` is beyond the newest change (the reader
  // followed another store, or this one restored from a backup) — either way, load a Snapshot;
  // kUnavailable if the store cannot be read.
  virtual StatusOr<std::vector<Change>> ChangesSince(uint64_t after_seq, int limit) = 0;

  // The seq of the newest change; 0 if none was ever recorded. Errors: kUnavailable.
  virtual StatusOr<uint64_t> LatestChangeSeq() = 0;

  // --- the audit log -----------------------------------------------------------------------
  //
  // Entries are appended only in the transaction of the write they record (WriteBatch::audit,
  // AdjustCredits), so a write whose entry cannot be appended does not happen, and an entry
  // never records a write that did not. The store numbers each entry one more than the newest
  // (from 1, no gaps) and links it to it (hash = audit::LinkHash(newest hash, entry)), so the
  // entries of every writer sharing the store form one chain in commit order. Entries are never
  // changed or removed by keyhold.

  // Up to `limit` entries with seq > `after_seq`, in chain order, with their hashes: for
  // verifying the chain and exporting it. Errors: kInvalidArgument if limit is not in
  // [1, kMaxAuditPage]; kUnavailable.
  virtual StatusOr<std::vector<audit::AuditEntry>> ReadAudit(int64_t after_seq, int limit) = 0;

  // The entries matching `q`, newest first. Errors: kInvalidArgument if q.limit is not in
  // [1, kMaxAuditPage]; kUnavailable.
  virtual StatusOr<std::vector<audit::AuditEntry>> QueryAudit(const AuditQuery& q) = 0;

  // The newest entry's seq and hash. Errors: kUnavailable.
  virtual StatusOr<AuditTail> ReadAuditTail() = 0;

  // The installation's random salt for audit::SensitiveDigest (32 bytes, made once when the
  // store is created, never changed). Errors: kUnavailable.
  virtual StatusOr<std::vector<uint8_t>> AuditSalt() = 0;

  // Stores a signed checkpoint of the chain (an upsert by seq). Errors: kUnavailable.
  virtual Status PutAuditCheckpoint(const audit::Checkpoint& cp) = 0;
  // Up to `limit` stored checkpoints with seq > `after_seq`, oldest first. Errors:
  // kInvalidArgument if limit is not in [1, kMaxAuditPage]; kUnavailable.
  virtual StatusOr<std::vector<audit::Checkpoint>> ListAuditCheckpoints(int64_t after_seq,
                                                                        int limit) = 0;

  // --- usage ---------------------------------------------------------------------------------
  //
  // Verification counts, written in batches by the usage recorder (best effort: usage, not an
  // acknowledged write; recorded in no change feed and no audit entry).

  // Appends `rows` to the usage log and adds their counts to the minute, hour and day rollups, in
  // one transaction. Errors: kInvalidArgument for a negative count; kUnavailable.
  virtual Status RecordUsage(const std::vector<UsageRow>& rows) = 0;

  // The usage journal: rows counted but not yet in the usage log, kept durable in one write per
  // flush until their minute is closed. Every row's second_ms must be the start of its minute.
  // Errors: kInvalidArgument for a negative count or a time not on a minute; kUnavailable.
  virtual Status JournalUsage(const std::vector<UsageRow>& rows) = 0;
  // Everything in the journal, in the order it was written; entries that cannot be read (a
  // damaged file) are skipped and counted. Errors: kUnavailable.
  virtual StatusOr<UsageJournal> ReadUsageJournal() = 0;
  // RecordUsage(rows) and the removal of the journal's rows of minutes before `before_ms`, in one
  // transaction: `rows` must be those journal rows (summed as the caller likes). Errors: as
  // RecordUsage.
  virtual Status CloseUsage(int64_t before_ms, const std::vector<UsageRow>& rows) = 0;

  // Verification counts from the rollups, ordered by the grouped attributes (time first).
  // Errors: kInvalidArgument if limit is out of range or until <= since; kUnavailable.
  virtual StatusOr<std::vector<UsageCount>> QueryUsage(const UsageQuery& q) = 0;

  // Up to `limit` usage rows of key `key_id` ("" = any key) in [since_ms, until_ms), newest
  // first. Errors: kInvalidArgument for a limit out of [1, kMaxUsageRows]; kUnavailable.
  virtual StatusOr<std::vector<UsageRow>> ReadUsage(const std::string& key_id, int64_t since_ms,
                                                    int64_t until_ms, int limit) = 0;

  // Deletes usage rows and minute rollups older than `rows_before_ms`, hour rollups older than
  // `hours_before_ms` and day rollups older than `days_before_ms`. Errors: kUnavailable.
  virtual Status PruneUsage(int64_t rows_before_ms, int64_t hours_before_ms,
                            int64_t days_before_ms) = 0;

  // --- alerts and webhooks -------------------------------------------------------------------
  //
  // The alert outbox (audit/alert.h). Alerts, endpoints and deliveries are in no change feed:
  // every node reads them from the store when it needs them. Endpoint changes and
  // acknowledgements append `audit` (if given) in their own transaction, as Apply does.

  // Stores `alert` (id, created_at_ms and count as given) and, in the same transaction, one
  // pending delivery (due at alert.created_at_ms) per endpoint it goes to: the enabled endpoints
  // whose kinds accept it, or, if `only_endpoint_id` is given, that endpoint alone whatever its
  // kinds. Unless an unacknowledged alert with the same non-empty dedupe_key was created at or
  // after `dedupe_since_ms`: then only that alert's count grows by alert.count, and its id is
  // returned with deduplicated set. Errors: kNotFound if `only_endpoint_id` names no endpoint;
  // kAlreadyExists if the id is taken; kUnavailable (nothing stored).
  virtual StatusOr<audit::RaiseOutcome> RaiseAlert(const audit::Alert& alert,
                                                   int64_t dedupe_since_ms,
                                                   const std::string& only_endpoint_id) = 0;
  // The alerts matching `q`, newest first. Errors: kInvalidArgument if q.limit is not in
  // [1, kMaxAlertsPage]; kUnavailable.
  virtual StatusOr<std::vector<audit::Alert>> ListAlerts(const AlertQuery& q) = 0;
  // Errors: kNotFound; kUnavailable.
  virtual StatusOr<audit::Alert> GetAlert(const std::string& id) = 0;
  // Marks alert `id` acknowledged by `by` at `at_ms`; an alert already acknowledged keeps its
  // first acknowledgement (and nothing is written). Errors: kNotFound; kUnavailable.
  virtual Status AcknowledgeAlert(const std::string& id, const std::string& by, int64_t at_ms,
                                  const audit::AuditEntry* audit = nullptr) = 0;

  // Creates or replaces endpoint `e.id`. Errors: kUnavailable.
  virtual Status PutWebhookEndpoint(const WebhookEndpointRecord& e,
                                    const audit::AuditEntry* audit = nullptr) = 0;
  // Removes endpoint `id` and every delivery to it. Errors: kNotFound; kUnavailable.
  virtual Status DeleteWebhookEndpoint(const std::string& id,
                                       const audit::AuditEntry* audit = nullptr) = 0;
  // Every endpoint, by id. Errors: kUnavailable.
  virtual StatusOr<std::vector<WebhookEndpointRecord>> ListWebhookEndpoints() = 0;
  // Errors: kNotFound; kUnavailable.
  virtual StatusOr<WebhookEndpointRecord> GetWebhookEndpoint(const std::string& id) = 0;

  // Up to `limit` pending deliveries due at `now_ms`, earliest first. Errors: kInvalidArgument
  // if limit is not in [1, kMaxAlertsPage]; kUnavailable.
  virtual StatusOr<std::vector<DeliveryRecord>> DueDeliveries(int64_t now_ms, int limit) = 0;
  // Deliveries still pending (due now or waiting for a retry). Errors: kUnavailable.
  virtual StatusOr<int64_t> CountPendingDeliveries() = 0;
  // Up to `limit` deliveries to endpoint `endpoint_id`, newest first. Errors: as DueDeliveries.
  virtual StatusOr<std::vector<DeliveryRecord>> ListDeliveries(const std::string& endpoint_id,
                                                               int limit) = 0;
  // Stores the outcome of an attempt: d's status, attempts, next attempt, last status and error,
  // updated time. A delivery already recorded as delivered is never changed again, so a message
  // is never sent twice once a 2xx was stored. Errors: kNotFound if there is no delivery d.id
  // (its endpoint was deleted); kFailedPrecondition if it was already delivered; kUnavailable.
  virtual Status RecordDeliveryAttempt(const DeliveryRecord& d) = 0;
  // Deletes acknowledged alerts created before `before_ms` and delivered or failed deliveries
  // last updated before it. Errors: kUnavailable.
  virtual Status PruneAlerts(int64_t before_ms) = 0;

  // --- secrets -------------------------------------------------------------------------------
  //
  // The KV version 2 secrets (service/secrets.h), sealed by the caller: the store holds
  // envelopes and metadata, never a value. In no change feed: every node reads secrets from the
  // store. Each write appends `audit` (if given) in its own transaction, as Apply does.

  // Appends the audit entry of a secret read in a transaction of reads only that is durable against
  // a crash of this process once this returns (it is in the write-ahead log) but is not synced to
  // the disk by itself: the next synced write, or the log's next checkpoint, syncs it. Reads are
  // audited at the speed of reads, as Vault's file audit device audits them; a power loss may
  // lose the newest read entries, never a change's. Concurrent calls may be committed together in
  // one transaction; each returns once its own entry is committed, and if that transaction fails
  // every call in it fails. Errors: kUnavailable (nothing appended).
  virtual Status RecordSecretRead(const audit::AuditEntry& entry) = 0;
  // RecordSecretRead for a caller that must not wait: `done` is called exactly once with what
  // RecordSecretRead would return, from a thread of the store's once the entry's transaction is
  // over (or from this call, as this default does). `done` must not call back into the store.
  // By value: a store that queues the entry keeps it.
  virtual void RecordSecretReadLater(
      audit::AuditEntry entry,             // NOLINT(performance-unnecessary-value-param)
      std::function<void(Status)> done) {  // NOLINT(performance-unnecessary-value-param)
    done(RecordSecretRead(entry));
  }

  // Every mount, by name. Errors: kUnavailable.
  virtual StatusOr<std::vector<SecretMountRecord>> ListSecretMounts() = 0;
  // Creates or replaces mount `m.name`. Errors: kUnavailable.
  virtual Status PutSecretMount(const SecretMountRecord& m,
                                const audit::AuditEntry* audit = nullptr) = 0;

  // Every keyring term, oldest first. Errors: kUnavailable.
  virtual StatusOr<std::vector<crypto::SealedTerm>> ReadKeyring() = 0;
  // Adds a term. Errors: kAlreadyExists if its number is taken (another node rotated first);
  // kUnavailable.
  virtual Status AddKeyringTerm(const crypto::SealedTerm& t,
                                const audit::AuditEntry* audit = nullptr) = 0;

  // Secret `path` of `mount`: metadata and kept versions, without values. Errors: kNotFound
  // (reason "data/secret_not_found") if there is none; kUnavailable.
  virtual StatusOr<SecretRecord> ReadSecret(const std::string& mount, const std::string& path) = 0;
  // One kept version with its value (empty if destroyed). Errors: kNotFound if the secret or
  // the version is not kept; kUnavailable.
  virtual StatusOr<SecretVersionRecord> ReadSecretVersion(const std::string& mount,
                                                          const std::string& path,
                                                          int64_t version) = 0;
  // ReadSecret, then ReadSecretVersion of `version` (0: the secret's current one) if it is kept,
  // in one read transaction, for a thread that must not wait: std::nullopt, having done
  // nothing, when that would wait for anything but the disk (every connection for such reads
  // busy, a lock held) or failed; the caller then reads the usual way. Errors: kNotFound if
  // there is no such secret. This default never reads.
  struct SecretReadNow {
    SecretRecord secret;
    std::optional<SecretVersionRecord> version;  // empty if not kept (or 0 and none current)
  };
  virtual std::optional<StatusOr<SecretReadNow>> TryReadSecretNow(const std::string& /*mount*/,
                                                                  const std::string& /*path*/,
                                                                  int64_t /*version*/) {
    return std::nullopt;
  }
  // Stores w.version as the secret's new current version, creating the secret if needed, if
  // and only if its current version is still w.expected_current (w.version.version must be one
  // more); then drops the oldest versions beyond max_versions (the smaller of the secret's and
  // the mount's where both are set, else whichever is, else 10), in the same transaction. Errors:
  // kFailedPrecondition, reason "data/secret_changed", if another write came first (nothing
  // written: seal again and retry); kInvalidArgument if the version is not expected_current + 1;
  // kNotFound if the mount does not exist; kUnavailable.
  virtual Status WriteSecretVersion(const SecretVersionWrite& w,
                                    const audit::AuditEntry* audit = nullptr) = 0;
  // Soft-deletes (at `now_ms`), undeletes or destroys the kept versions of `versions` that are
  // not destroyed; other numbers are ignored. Errors: kNotFound if there is no such secret;
  // kUnavailable.
  virtual Status ChangeSecretVersions(const std::string& mount, const std::string& path,
                                      SecretVersionOp op, const std::vector<int64_t>& versions,
                                      int64_t now_ms, const audit::AuditEntry* audit = nullptr) = 0;
  // Creates or updates a secret's metadata: max_versions, cas_required,
  // delete_version_after_ms, custom_metadata_json, the rotation fields and updated_at_ms (and
  // created_at_ms for a new one); dropping versions beyond a lowered max_versions. Errors:
  // kNotFound if the mount does not exist; kUnavailable.
  virtual Status PutSecretMetadata(const SecretRecord& m,
                                   const audit::AuditEntry* audit = nullptr) = 0;
  // Removes a secret, every version and its metadata. Errors: kNotFound if there is none;
  // kUnavailable.
  virtual Status DeleteSecret(const std::string& mount, const std::string& path,
                              const audit::AuditEntry* audit = nullptr) = 0;
  // Up to `limit` paths of `mount` that start with `prefix` and sort after `after`, ascending
  // (byte order). Errors: kInvalidArgument if limit is not in [1, kMaxSecretListPage];
  // kUnavailable.
  virtual StatusOr<std::vector<std::string>> ListSecretPaths(const std::string& mount,
                                                             const std::string& prefix,
                                                             const std::string& after,
                                                             int limit) = 0;
  // Up to `limit` versions, not destroyed, whose data key is wrapped by a term below `term`.
  // Errors: kInvalidArgument for a limit out of [1, kMaxSecretListPage]; kUnavailable.
  virtual StatusOr<std::vector<WrappedVersion>> VersionsWrappedBelow(int32_t term, int limit) = 0;
  // Replaces a version's wrapped data key if it is still wrapped by `old.kek_term`; returns
  // whether it was (a version destroyed or re-wrapped meanwhile is left alone). Errors:
  // kUnavailable.
  virtual StatusOr<bool> RewrapSecretVersion(const WrappedVersion& old, int32_t new_term,
                                             const std::vector<uint8_t>& wrapped_key) = 0;

  // Rotation of held secrets. A pending version is numbered current + 1 and kept beside the
  // current one, which stays current (and is what a plain read returns) until the rotation
  // finishes. While a version is pending, WriteSecretVersion refuses with kFailedPrecondition,
  // reason "data/rotation_pending".

  // Stores w.version as the secret's pending version (step "create", no failure), if its
  // current version is still w.expected_current and nothing is pending. Errors: kNotFound if
  // there is no such secret; kFailedPrecondition "data/secret_changed" if another write came
  // first, "data/rotation_pending" if a version is already pending; kInvalidArgument if the
  // version is not expected_current + 1; kUnavailable.
  virtual Status WritePendingSecretVersion(const SecretVersionWrite& w,
                                           const audit::AuditEntry* audit = nullptr) = 0;
  // Records the rotation's progress: `step` done (failure empty) or failed (failure set; step
  // is then the last step that was done). Errors: kNotFound if there is no such secret;
  // kFailedPrecondition "data/no_pending_version" if nothing is pending and step is not "";
  // kUnavailable.
  virtual Status SetSecretRotationStep(const std::string& mount, const std::string& path,
                                       const std::string& step, const std::string& failure,
                                       const audit::AuditEntry* audit = nullptr) = 0;
  // Makes pending version `pending` current and the current one previous; clears the
  // rotation's progress, sets next_rotation_at_ms (nullopt: none) and updated_at_ms; then drops
  // versions beyond max_versions, but never the previous one. Errors: kNotFound if there is no
  // such secret; kFailedPrecondition "data/no_pending_version" if `pending` is not the pending
  // version; kUnavailable.
  virtual Status FinishSecretRotation(const std::string& mount, const std::string& path,
                                      int64_t pending, std::optional<int64_t> next_rotation_at_ms,
                                      int64_t now_ms, const audit::AuditEntry* audit = nullptr) = 0;
  // Removes the pending version (its sealed value with it) and clears the rotation's progress;
  // the current version is untouched. Nothing pending: only the progress is cleared. Errors:
  // kNotFound if there is no such secret; kUnavailable.
  virtual Status CancelSecretRotation(const std::string& mount, const std::string& path,
                                      const audit::AuditEntry* audit = nullptr) = 0;
  // Up to `limit` secrets (every mount) whose next_rotation_at_ms is at or before
  // `due_by_ms`, earliest first (then by mount and path), without versions. Errors:
  // kInvalidArgument if limit is not in [1, kMaxSecretListPage]; kUnavailable.
  virtual StatusOr<std::vector<SecretRecord>> ListSecretsDue(int64_t due_by_ms, int limit) = 0;

  // The last rotation attempt of each secret (RotationOutcomeRecord). These writes record no
  // change and append no audit entry: the steps they sum up have theirs.

  // Stores `o` as the outcome of (o.mount, o.path), replacing the one there. The secret need not
  // exist (an outcome of a secret deleted meanwhile is removed with nothing else). Errors:
  // kInvalidArgument for a result that is none of RotationResult's; kUnavailable.
  virtual Status PutRotationOutcome(const RotationOutcomeRecord& o) = 0;
  // The outcome of (mount, path); nullopt if there is none. Errors: kUnavailable.
  virtual StatusOr<std::optional<RotationOutcomeRecord>> ReadRotationOutcome(
      const std::string& mount, const std::string& path) = 0;
  // Removes the outcome of (mount, path), if any. DeleteSecret removes a secret's outcome too.
  // Errors: kUnavailable.
  virtual Status DeleteRotationOutcome(const std::string& mount, const std::string& path) = 0;

  // Rotations queued or running (RotationRunRecord). Written with no change and no audit entry.

  // Stores `r` (every field, the command's process group too) for (r.mount, r.path), replacing
  // the one there, durably before it returns; does
  // nothing (OK) if there is no such secret (deleted while it rotated). Errors: kInvalidArgument
  // for a state that is none of RotationRunState's; kUnavailable.
  virtual Status PutRotationRun(const RotationRunRecord& r) = 0;
  // Removes the run of (mount, path), if any. DeleteSecret removes a secret's run too. Errors:
  // kUnavailable.
  virtual Status DeleteRotationRun(const std::string& mount, const std::string& path) = 0;
  // Up to `limit` runs, by mount and path. Errors: kInvalidArgument if limit is not in
  // [1, kMaxSecretListPage]; kUnavailable.
  virtual StatusOr<std::vector<RotationRunRecord>> ListRotationRuns(int limit) = 0;
  // Ends each run of `ends`, all in one transaction, durably before it returns: removes its run
  // record and keeps, replaces or removes its outcome. An outcome is not written for a secret
  // that does not exist (deleted while it rotated). All or nothing: on an error none is ended.
  // Errors: kInvalidArgument for a result that is none of RotationResult's (nothing written);
  // kUnavailable.
  virtual Status EndRotationRuns(const std::vector<RotationRunEnd>& ends) = 0;
  // Up to `limit` secrets (every mount) with a pending version, by mount and path. Errors:
  // kInvalidArgument if limit is not in [1, kMaxSecretListPage]; kUnavailable.
  virtual StatusOr<std::vector<StagedRotationRecord>> ListStagedRotations(int limit) = 0;

  // --- rate-limit overrides ------------------------------------------------------------------
  //
  // Every node holds them all in memory (they are few, and read on every ratelimit.limit call).
  // Each write records a change (ChangeKind::kRatelimitOverride, the override's id) and appends
  // `audit` (if given) in its own transaction, as Apply does.

  // Creates the override of (o.namespace_name, o.identifier), or replaces the limit, duration
  // and updated_at_ms of the one there, which keeps its id and creation time. Returns the
  // override as stored. Errors: kUnavailable (nothing written).
  virtual StatusOr<RatelimitOverrideRecord> PutRatelimitOverride(
      const RatelimitOverrideRecord& o, const audit::AuditEntry* audit = nullptr) = 0;
  // Removes the override of (namespace_name, identifier) and returns it. Errors: kNotFound
  // (reason "data/ratelimit_override_not_found") if there is none; kUnavailable.
  virtual StatusOr<RatelimitOverrideRecord> DeleteRatelimitOverride(
      const std::string& namespace_name, const std::string& identifier,
      const audit::AuditEntry* audit = nullptr) = 0;
  // Up to `limit` overrides with id > `after_id`, by id (creation order), of `namespace_name`
  // ("" = of every namespace). Errors: kInvalidArgument if limit is not in
  // [1, kMaxOverridesPage]; kUnavailable.
  virtual StatusOr<std::vector<RatelimitOverrideRecord>> ListRatelimitOverrides(
      const std::string& namespace_name, const std::string& after_id, int limit) = 0;

  // --- other writes and reads --------------------------------------------------------------

  // Stores last-used times; best effort (usage metadata, not an acknowledged write).
  // Records no change (see above). Errors: kUnavailable if the store cannot be written.
  virtual Status TouchLastUsed(const std::vector<std::pair<std::string, int64_t>>& key_times) = 0;

  // Ids of live keys of `api_id` (optionally only those of `identity_id`) with id > `after_id`,
  // ascending, at most `limit`. Errors: kUnavailable if the store cannot be read.
  virtual StatusOr<std::vector<std::string>> ListKeyIds(const std::string& api_id,
                                                        const std::string& after_id,
                                                        const std::string& identity_id,
                                                        int limit) = 0;

  // --- rotation and revocation ----------------------------------------------------------------

  // Key `key_id` with its links, whether live, deleted or revoked (deleted_at and revoked_reason
  // tell). Errors: kNotFound if there is no such key (or it was deleted permanently);
  // kUnavailable.
  virtual StatusOr<KeyRecord> GetKeyRecord(const std::string& key_id) = 0;

  // Ids of the keys matching `q`, ascending, at most q.limit. Errors: kInvalidArgument if q.limit
  // is not in [1, kMaxKeyQuery]; kUnavailable.
  virtual StatusOr<std::vector<std::string>> QueryKeyIds(const KeyQuery& q) = 0;

  // Schema version currently applied.
  virtual int SchemaVersion() = 0;
};

}  // namespace keyhold::store

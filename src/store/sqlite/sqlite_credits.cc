// SqliteStore: spending and adjusting credit balances, each a read-modify-write in a transaction.
// BEGIN IMMEDIATE takes SQLite's write lock before the read, so no other connection can change the
// balance between our read and our write. Concurrent spends are committed together (one sync for
// the batch), each answered once its batch is durable.
#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <string>

#include "store/sqlite/audit_log.h"
#include "store/sqlite/changes.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/statement.h"

namespace keyhold::store {

using sqlite::Access;
using sqlite::EngineError;
using sqlite::Stmt;

namespace {

constexpr Access kWrite = Access::kWrite;

Status KeyNotFound(const std::string& key_id) {
  return NotFound("key '" + key_id + "' was not found", "data/key_not_found");
}

// The credits of live key `key_id`. REQUIRES: inside a write transaction.
StatusOr<CreditsState> ReadLiveCredits(sqlite3* db, const std::string& key_id) {
  static const std::string kSql =
      std::string("SELECT ") + sqlite::kCreditColumns + ", deleted_at FROM keys WHERE id = ?";
  Stmt s(db, kSql.c_str());
  if (!s.ok()) return EngineError(db, kWrite, "prepare read credits");
  s.Bind(1, key_id);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return KeyNotFound(key_id);
  if (rc != SQLITE_ROW) return EngineError(db, kWrite, "read credits");
  if (!s.IsNull(5)) return KeyNotFound(key_id);  // soft-deleted
  return sqlite::ReadCredits(s, 0);
}

// The refill rule is not written: it is a field of the key, changed only by putting the key.
Status WriteCredits(sqlite3* db, const std::string& key_id, const CreditsState& c) {
  Stmt s(db, "UPDATE keys SET credits_remaining = ?, last_refill_at = ? WHERE id = ?");
  s.Bind(1, c.remaining);
  s.Bind(2, c.last_refill_at);
  s.Bind(3, key_id);
  return s.Run(kWrite, "write credits");
}

// One spend, inside a write transaction: its answer goes to `result` (a key that does not exist is
// an answer, kNotFound); an error returned is the engine's, and fails the transaction.
Status ApplySpend(sqlite3* db, const std::string& key_id, int64_t cost, int64_t extra,
                  int64_t now_ms, StatusOr<SpendResult>& result, sqlite::ChangeLog& log) {
  StatusOr<CreditsState> read = ReadLiveCredits(db, key_id);
  if (!read.ok()) {
    if (read.status().code() != StatusCode::kNotFound) return read.status();
    result = read.status();
    return OkStatus();
  }
  SpendResult r{.credits = *read};
  if (!r.credits.remaining) {
    r.spent = true;
    result = r;
    return OkStatus();
  }
  bool refilled = ApplyRefill(r.credits, now_ms);
  r.spent = TrySpend(r.credits, cost);
  if (r.spent && extra > 0) {
    r.extra = std::min(extra, *r.credits.remaining);
    *r.credits.remaining -= r.extra;
  }
  result = r;
  if (!r.spent || (cost == 0 && r.extra == 0 && !refilled)) return OkStatus();  // nothing to write
  KH_RETURN_IF_ERROR(WriteCredits(db, key_id, r.credits));
  return log.Record(ChangeKind::kCredits, key_id, ChangeOp::kPut);
}

}  // namespace

struct SqliteStore::PendingSpend {
  const std::string& key_id;
  int64_t cost;
  int64_t extra;
  int64_t now_ms;
  StatusOr<SpendResult> result = SpendResult{};
  bool done = false;
  bool threw = false;            // the commit of its batch threw: nothing of the batch happened
  std::condition_variable wake;  // its own, so that a commit wakes only whom it concerns
};

StatusOr<SpendResult> SqliteStore::SpendCredits(const std::string& key_id, int64_t cost,
                                                int64_t now_ms, int64_t extra) {
  if (cost < 0 || cost > kMaxCredits) {
    return InvalidArgument("credits.cost must be between 0 and 1000000000000000");
  }
  if (extra < 0 || extra > kMaxCredits) {
    return InvalidArgument("the credits reserved must be between 0 and 1000000000000000");
  }
  PendingSpend mine{.key_id = key_id, .cost = cost, .extra = extra, .now_ms = now_ms};
  std::unique_lock lock(spend_mu_);
  spend_queue_.push_back(&mine);
  while (!mine.done) {
    if (spend_committing_) {
      mine.wake.wait(lock);
      continue;
    }
    // No commit in progress: this caller commits every spend queued so far, its own among them
    // (or it came while a batch was being committed, and leads the next one).
    std::vector<PendingSpend*> batch;
    batch.swap(spend_queue_);
    spend_committing_ = true;
    lock.unlock();
    // Whatever happens in the commit, its callers are woken and the next batch can be led.
    auto finish = [&](bool threw) {
      lock.lock();
      spend_committing_ = false;
      for (PendingSpend* p : batch) {
        p->threw = threw;
        p->done = true;
        if (p != &mine) p->wake.notify_one();
      }
      // Those that came during the commit: the first of them leads the next batch.
      if (!spend_queue_.empty()) spend_queue_.front()->wake.notify_one();
    };
    try {
      CommitSpends(batch);
    } catch (...) {
      finish(true);
      throw;
    }
    finish(false);
  }
  if (mine.threw) return Unavailable("the credit spend could not be committed");
  return std::move(mine.result);
}

// One transaction for the whole batch, spends applied in the order they came: several spends of
// one key each see the balance the one before left. A spend refused, or of a key that does not
// exist, leaves the others be; if the transaction itself fails, it is rolled back and each spend
// is tried alone, so that an error reaches only the spends it concerns.
void SqliteStore::CommitSpends(const std::vector<PendingSpend*>& batch) {
  auto spend_all = [&](sqlite::ChangeLog& log) -> Status {
    for (PendingSpend* p : batch) {
      KH_RETURN_IF_ERROR(ApplySpend(db_, p->key_id, p->cost, p->extra, p->now_ms, p->result, log));
    }
    return OkStatus();
  };
  std::lock_guard lock(mu_);
  Status st = WriteLocked(spend_all);
  if (st.ok()) return;
  if (batch.size() == 1) {
    batch.front()->result = st;
    return;
  }
  // The batch was rolled back. Each spend is tried again in a transaction of its own, so that one
  // that cannot be written fails alone, as it would have without company.
  for (PendingSpend* p : batch) {
    Status alone = WriteLocked([&](sqlite::ChangeLog& log) {
      return ApplySpend(db_, p->key_id, p->cost, p->extra, p->now_ms, p->result, log);
    });
    if (!alone.ok()) p->result = alone;
  }
}

StatusOr<std::vector<std::optional<CreditsState>>> SqliteStore::GiveBackCredits(
    const std::vector<CreditsReturn>& returns, int64_t now_ms) {
  std::vector<std::optional<CreditsState>> out(returns.size());
  auto give_back = [&](sqlite::ChangeLog& log) -> Status {
    for (size_t i = 0; i < returns.size(); ++i) {
      const CreditsReturn& r = returns[i];
      out[i].reset();
      StatusOr<CreditsState> read = ReadLiveCredits(db_, r.key_id);
      if (!read.ok()) {
        if (read.status().code() == StatusCode::kNotFound) continue;
        return read.status();
      }
      CreditsState credits = *read;
      if (!credits.remaining || r.amount <= 0 || credits.last_refill_at != r.last_refill_at) {
        continue;
      }
      if (CreditsState probe = credits; ApplyRefill(probe, now_ms)) continue;
      credits.remaining =
          std::min(kMaxCredits, *credits.remaining + std::min(r.amount, kMaxCredits));
      KH_RETURN_IF_ERROR(WriteCredits(db_, r.key_id, credits));
      KH_RETURN_IF_ERROR(log.Record(ChangeKind::kCredits, r.key_id, ChangeOp::kPut));
      out[i] = credits;
    }
    return OkStatus();
  };
  std::lock_guard lock(mu_);
  KH_RETURN_IF_ERROR(WriteLocked(give_back));
  return out;
}

StatusOr<CreditsState> SqliteStore::AdjustCredits(const std::string& key_id, int64_t delta,
                                                  int64_t now_ms, const audit::AuditEntry* audit) {
  if (delta < -kMaxCredits || delta > kMaxCredits) {
    return InvalidArgument("value must be between 0 and 1000000000000000");
  }
  CreditsState credits;
  auto adjust = [&](sqlite::ChangeLog& log) -> Status {
    KH_ASSIGN_OR_RETURN(credits, ReadLiveCredits(db_, key_id));
    if (!credits.remaining) {
      return InvalidArgument("the key has unlimited credits; set a balance before changing it");
    }
    ApplyRefill(credits, now_ms);
    int64_t current = *credits.remaining;
    // Compared so that nothing overflows, whatever the stored balance.
    if (delta > 0 && current > kMaxCredits - delta) {
      return InvalidArgument("the balance would exceed 1e15");
    }
    credits.remaining = delta < 0 && current <= -delta ? 0 : current + delta;
    KH_RETURN_IF_ERROR(WriteCredits(db_, key_id, credits));
    if (audit) KH_RETURN_IF_ERROR(sqlite::AppendAudit(db_, {*audit}));
    return log.Record(ChangeKind::kCredits, key_id, ChangeOp::kPut);
  };
  std::lock_guard lock(mu_);
  KH_RETURN_IF_ERROR(WriteLocked(adjust));
  return credits;
}

}  // namespace keyhold::store

#include "store/sqlite/changes.h"

#include <string>

namespace keyhold::store::sqlite {

Status ChangeLog::Record(ChangeKind kind, std::string_view id, ChangeOp op) {
  ++recorded_;
  if (skip_ > 0) {
    --skip_;
    ++skipped_;
    return OkStatus();
  }
  if (!insert_) insert_.emplace(db_, "INSERT INTO changes (seq, kind, id, op) VALUES (?,?,?,?)");
  if (skipped_ > 0) {
    // The first row after numbers not written: the only time the number is given explicitly.
    KH_ASSIGN_OR_RETURN(uint64_t latest, LatestSeq(db_, Access::kWrite));
    insert_->Bind(1, static_cast<int64_t>(latest + skipped_ + 1));
    skipped_ = 0;
  } else {
    insert_->BindNull(1);  // SQLite numbers the row max(seq) + 1 without a separate read
  }
  insert_->Bind(2, int64_t{static_cast<int32_t>(kind)});
  insert_->Bind(3, id);
  insert_->Bind(4, int64_t{static_cast<int32_t>(op)});
  return insert_->Run(Access::kWrite, "record change");
}

namespace {

ChangeOp PutOrSoftDelete(const std::optional<int64_t>& deleted_at) {
  return deleted_at ? ChangeOp::kDelete : ChangeOp::kPut;
}

}  // namespace

Status ChangeLog::RecordBatch(const WriteBatch& b) {
  size_t total = b.put_apis.size() + b.put_identities.size() + b.put_permissions.size() +
                 b.put_roles.size() + b.put_keys.size() + b.credits.size() + b.delete_keys.size() +
                 b.delete_roles.size() + b.delete_permissions.size() + b.delete_identities.size();
  skip_ = total > keep_ ? total - keep_ : 0;
  for (const auto& a : b.put_apis) {
    KH_RETURN_IF_ERROR(Record(ChangeKind::kApi, a.id, PutOrSoftDelete(a.deleted_at)));
  }
  for (const auto& i : b.put_identities) {
    KH_RETURN_IF_ERROR(Record(ChangeKind::kIdentity, i.id, ChangeOp::kPut));
  }
  for (const auto& p : b.put_permissions) {
    KH_RETURN_IF_ERROR(Record(ChangeKind::kPermission, p.id, ChangeOp::kPut));
  }
  for (const auto& r : b.put_roles) {
    KH_RETURN_IF_ERROR(Record(ChangeKind::kRole, r.id, ChangeOp::kPut));
  }
  for (const auto& k : b.put_keys) {
    KH_RETURN_IF_ERROR(Record(ChangeKind::kKey, k.id, PutOrSoftDelete(k.deleted_at)));
  }
  for (const auto& c : b.credits) {
    KH_RETURN_IF_ERROR(Record(ChangeKind::kCredits, c.key_id, ChangeOp::kPut));
  }
  auto deleted = [&](ChangeKind kind, const std::vector<std::string>& ids) -> Status {
    for (const std::string& id : ids) KH_RETURN_IF_ERROR(Record(kind, id, ChangeOp::kDelete));
    return OkStatus();
  };
  KH_RETURN_IF_ERROR(deleted(ChangeKind::kKey, b.delete_keys));
  KH_RETURN_IF_ERROR(deleted(ChangeKind::kRole, b.delete_roles));
  KH_RETURN_IF_ERROR(deleted(ChangeKind::kPermission, b.delete_permissions));
  return deleted(ChangeKind::kIdentity, b.delete_identities);
}

Status PruneChanges(sqlite3* db, uint64_t keep) {
  Stmt s(db, "DELETE FROM changes WHERE seq <= (SELECT MAX(seq) FROM changes) - ?");
  s.Bind(1, static_cast<int64_t>(keep));
  return s.Run(Access::kWrite, "prune changes");
}

StatusOr<uint64_t> LatestSeq(sqlite3* db, Access access) {
  Stmt s(db, "SELECT COALESCE(MAX(seq), 0) FROM changes");
  uint64_t seq = 0;
  KH_RETURN_IF_ERROR(s.ForEachRow(access, "read latest change", [&] {
    seq = static_cast<uint64_t>(s.Int(0));
    return OkStatus();
  }));
  return seq;
}

namespace {

// The seqs the feed still holds: (oldest - 1, newest]; {0, 0} if it never held any.
struct Horizon {
  uint64_t pruned_through = 0;
  uint64_t latest = 0;
};

StatusOr<Horizon> ReadHorizon(sqlite3* db) {
  Stmt s(db, "SELECT MIN(seq), MAX(seq) FROM changes");
  Horizon h;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "read change horizon", [&] {
    // Changes are numbered without gaps (a rolled-back number is given again), so everything
    // below the oldest row was pruned, or numbered and never written (ChangeLog).
    if (!s.IsNull(0)) h = {static_cast<uint64_t>(s.Int(0)) - 1, static_cast<uint64_t>(s.Int(1))};
    return OkStatus();
  }));
  return h;
}

StatusOr<Change> ChangeFromRow(const Stmt& s) {
  Change c;
  c.seq = static_cast<uint64_t>(s.Int(0));
  int64_t kind = s.Int(1);
  int64_t op = s.Int(3);
  if (kind < static_cast<int32_t>(ChangeKind::kKey) ||
      kind > static_cast<int32_t>(ChangeKind::kRatelimitOverride) ||
      (op != static_cast<int32_t>(ChangeOp::kPut) &&
       op != static_cast<int32_t>(ChangeOp::kDelete))) {
    return Internal("a change in the store is corrupt")
        .WithLogDetail("change " + std::to_string(c.seq) + ": kind " + std::to_string(kind) +
                       ", op " + std::to_string(op));
  }
  c.kind = static_cast<ChangeKind>(kind);
  c.id = s.Text(2);
  c.op = static_cast<ChangeOp>(op);
  return c;
}

}  // namespace

StatusOr<std::vector<Change>> ReadChanges(sqlite3* db, uint64_t after_seq, int limit) {
  KH_ASSIGN_OR_RETURN(Horizon h, ReadHorizon(db));
  if (after_seq > h.latest) {
    return FailedPrecondition("the change feed has no change " + std::to_string(after_seq) +
                                  " yet; load a snapshot again",
                              "data/changes_ahead");
  }
  if (after_seq < h.pruned_through) {
    return FailedPrecondition("changes up to " + std::to_string(h.pruned_through) +
                                  " are no longer kept; load a snapshot again",
                              "data/changes_pruned");
  }
  Stmt s(db, "SELECT seq, kind, id, op FROM changes WHERE seq > ? ORDER BY seq LIMIT ?");
  s.Bind(1, static_cast<int64_t>(after_seq));
  s.Bind(2, int64_t{limit});
  std::vector<Change> out;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "read changes", [&]() -> Status {
    KH_ASSIGN_OR_RETURN(Change c, ChangeFromRow(s));
    out.push_back(std::move(c));
    return OkStatus();
  }));
  return out;
}

}  // namespace keyhold::store::sqlite

// SqliteStore: the last rotation attempt of each held secret (store/store.h, table
// rotation_outcomes) and the rotations queued or running (table rotation_runs). One row of each
// per secret, replaced by the next; triggers remove them with their secret.
#include <sqlite3.h>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/statement.h"

namespace keyhold::store {

using sqlite::Access;
using sqlite::Stmt;

namespace {

bool IsKnownResult(int64_t result) {
  return result >= static_cast<int64_t>(RotationResult::kFinished) &&
         result <= static_cast<int64_t>(RotationResult::kError);
}

bool IsKnownRunState(int64_t state) {
  return state >= static_cast<int64_t>(RotationRunState::kQueued) &&
         state <= static_cast<int64_t>(RotationRunState::kRunning);
}

Status CheckLimit(int limit) {
  if (limit < 1 || limit > kMaxSecretListPage) {
    return InvalidArgument("limit must be between 1 and " + std::to_string(kMaxSecretListPage));
  }
  return OkStatus();
}

}  // namespace

Status SqliteStore::PutRotationOutcome(const RotationOutcomeRecord& o) {
  if (!IsKnownResult(static_cast<int64_t>(o.result))) {
    return InvalidArgument("unknown rotation result " +
                           std::to_string(static_cast<int32_t>(o.result)));
  }
  std::lock_guard lock(mu_);
  return sqlite::InTransaction(db_, Access::kWrite, [&]() -> Status {
    Stmt s(db_,
           "INSERT INTO rotation_outcomes (mount, path, result, step, error, at) VALUES "
           "(?,?,?,?,?,?) ON CONFLICT(mount, path) DO UPDATE SET result = excluded.result, "
           "step = excluded.step, error = excluded.error, at = excluded.at");
    s.Bind(1, o.mount);
    s.Bind(2, o.path);
    s.Bind(3, static_cast<int64_t>(o.result));
    s.Bind(4, o.step);
    s.Bind(5, o.error);
    s.Bind(6, o.at_ms);
    return s.Run(Access::kWrite, "write rotation outcome");
  });
}

StatusOr<std::optional<RotationOutcomeRecord>> SqliteStore::ReadRotationOutcome(
    const std::string& mount, const std::string& path) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT result, step, error, at FROM rotation_outcomes WHERE mount = ? AND path = ?");
  s.Bind(1, mount);
  s.Bind(2, path);
  std::optional<RotationOutcomeRecord> found;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "read rotation outcome", [&] {
    const int64_t result = s.Int(0);
    // A number a later version wrote reads as an error of its own, never as a finish.
    found =
        RotationOutcomeRecord{.mount = mount,
                              .path = path,
                              .result = IsKnownResult(result) ? static_cast<RotationResult>(result)
                                                              : RotationResult::kError,
                              .step = s.Text(1),
                              .error = s.Text(2),
                              .at_ms = s.Int(3)};
    return OkStatus();
  }));
  return found;
}

Status SqliteStore::DeleteRotationOutcome(const std::string& mount, const std::string& path) {
  std::lock_guard lock(mu_);
  return sqlite::InTransaction(db_, Access::kWrite, [&]() -> Status {
    Stmt s(db_, "DELETE FROM rotation_outcomes WHERE mount = ? AND path = ?");
    s.Bind(1, mount);
    s.Bind(2, path);
    return s.Run(Access::kWrite, "delete rotation outcome");
  });
}

Status SqliteStore::PutRotationRun(const RotationRunRecord& r) {
  if (!IsKnownRunState(static_cast<int64_t>(r.state))) {
    return InvalidArgument("unknown rotation run state " +
                           std::to_string(static_cast<int32_t>(r.state)));
  }
  std::lock_guard lock(mu_);
  return sqlite::InTransaction(db_, Access::kWrite, [&]() -> Status {
    // Only for a secret still there: one deleted while it rotated leaves no run behind.
    Stmt s(db_,
           "INSERT INTO rotation_runs (mount, path, state, step, at, command_pgid, "
           "command_start_ticks, command_boot_id, command_marker) "
           "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 "
           "WHERE EXISTS (SELECT 1 FROM secrets WHERE mount = ?1 AND path = ?2) "
           "ON CONFLICT(mount, path) DO UPDATE SET state = excluded.state, step = excluded.step, "
           "at = excluded.at, command_pgid = excluded.command_pgid, "
           "command_start_ticks = excluded.command_start_ticks, "
           "command_boot_id = excluded.command_boot_id, "
           "command_marker = excluded.command_marker");
    s.Bind(1, r.mount);
    s.Bind(2, r.path);
    s.Bind(3, static_cast<int64_t>(r.state));
    s.Bind(4, r.step);
    s.Bind(5, r.at_ms);
    s.Bind(6, r.command_pgid);
    s.Bind(7, r.command_start_ticks);
    s.Bind(8, r.command_boot_id);
    s.Bind(9, r.command_marker);
    return s.Run(Access::kWrite, "write rotation run");
  });
}

Status SqliteStore::DeleteRotationRun(const std::string& mount, const std::string& path) {
  std::lock_guard lock(mu_);
  return sqlite::InTransaction(db_, Access::kWrite, [&]() -> Status {
    Stmt s(db_, "DELETE FROM rotation_runs WHERE mount = ? AND path = ?");
    s.Bind(1, mount);
    s.Bind(2, path);
    return s.Run(Access::kWrite, "delete rotation run");
  });
}

Status SqliteStore::EndRotationRuns(const std::vector<RotationRunEnd>& ends) {
  for (const RotationRunEnd& e : ends) {
    if (e.change == RotationRunEnd::Outcome::kReplace &&
        !IsKnownResult(static_cast<int64_t>(e.outcome.result))) {
      return InvalidArgument("unknown rotation result " +
                             std::to_string(static_cast<int32_t>(e.outcome.result)));
    }
  }
  std::lock_guard lock(mu_);
  return sqlite::InTransaction(db_, Access::kWrite, [&]() -> Status {
    for (const RotationRunEnd& e : ends) {
      Stmt run(db_, "DELETE FROM rotation_runs WHERE mount = ? AND path = ?");
      run.Bind(1, e.mount);
      run.Bind(2, e.path);
      KH_RETURN_IF_ERROR(run.Run(Access::kWrite, "delete rotation run"));
      if (e.change == RotationRunEnd::Outcome::kRemove) {
        Stmt s(db_, "DELETE FROM rotation_outcomes WHERE mount = ? AND path = ?");
        s.Bind(1, e.mount);
        s.Bind(2, e.path);
        KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "delete rotation outcome"));
      } else if (e.change == RotationRunEnd::Outcome::kReplace) {
        // Only for a secret still there: one deleted while it rotated keeps nothing of it.
        Stmt s(db_,
               "INSERT INTO rotation_outcomes (mount, path, result, step, error, at) SELECT "
               "?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM secrets WHERE mount = ?1 AND "
               "path = ?2) ON CONFLICT(mount, path) DO UPDATE SET result = excluded.result, "
               "step = excluded.step, error = excluded.error, at = excluded.at");
        s.Bind(1, e.mount);
        s.Bind(2, e.path);
        s.Bind(3, static_cast<int64_t>(e.outcome.result));
        s.Bind(4, e.outcome.step);
        s.Bind(5, e.outcome.error);
        s.Bind(6, e.outcome.at_ms);
        KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "write rotation outcome"));
      }
    }
    return OkStatus();
  });
}

StatusOr<std::vector<RotationRunRecord>> SqliteStore::ListRotationRuns(int limit) {
  KH_RETURN_IF_ERROR(CheckLimit(limit));
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT mount, path, state, step, at, command_pgid, command_start_ticks, command_boot_id, "
         "command_marker FROM rotation_runs ORDER BY mount, path LIMIT ?");
  s.Bind(1, int64_t{limit});
  std::vector<RotationRunRecord> out;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "list rotation runs", [&] {
    const int64_t state = s.Int(2);
    // A state a later version wrote reads as running: the run was under way in some form.
    out.push_back({.mount = s.Text(0),
                   .path = s.Text(1),
                   .state = IsKnownRunState(state) ? static_cast<RotationRunState>(state)
                                                   : RotationRunState::kRunning,
                   .step = s.Text(3),
                   .at_ms = s.Int(4),
                   .command_pgid = s.Int(5),
                   .command_start_ticks = s.Int(6),
                   .command_boot_id = s.Text(7),
                   .command_marker = s.Text(8)});
    return OkStatus();
  }));
  return out;
}

StatusOr<std::vector<StagedRotationRecord>> SqliteStore::ListStagedRotations(int limit) {
  KH_RETURN_IF_ERROR(CheckLimit(limit));
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT s.mount, s.path, s.pending_version, s.rotation_step, s.rotation_failure, "
         "COALESCE(v.created_at, s.updated_at) FROM secrets s LEFT JOIN secret_versions v ON "
         "v.mount = s.mount AND v.path = s.path AND v.version = s.pending_version "
         "WHERE s.pending_version IS NOT NULL ORDER BY s.mount, s.path LIMIT ?");
  s.Bind(1, int64_t{limit});
  std::vector<StagedRotationRecord> out;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "list staged rotations", [&] {
    out.push_back({.mount = s.Text(0),
                   .path = s.Text(1),
                   .pending_version = s.Int(2),
                   .rotation_step = s.Text(3),
                   .rotation_failure = s.Text(4),
                   .staged_at_ms = s.Int(5)});
    return OkStatus();
  }));
  return out;
}

}  // namespace keyhold::store

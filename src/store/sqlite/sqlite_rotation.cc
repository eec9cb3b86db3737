// SqliteStore: the last rotation attempt of each held secret (store/store.h, table
// rotation_outcomes). One row per secret, replaced by each attempt; a trigger removes it with its
// secret.
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

}  // namespace keyhold::store

#include "store/sqlite/migrations.h"

namespace keyhold::store {

const std::vector<std::string_view>& SqliteMigrations() {
  static const std::vector<std::string_view> kMigrations = {
      // 1: keys, APIs (keyspaces), identities, permissions and roles.
      R"sql(
CREATE TABLE apis (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  default_prefix TEXT NOT NULL DEFAULT '',
  default_byte_length INTEGER NOT NULL DEFAULT 32,
  ip_allowlist TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE TABLE identities (
  id TEXT PRIMARY KEY,
  external_id TEXT NOT NULL UNIQUE,
  meta TEXT NOT NULL DEFAULT '',
  ratelimits TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL
);
CREATE TABLE permissions (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  slug TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE TABLE roles (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE TABLE role_permissions (
  role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  permission_id TEXT NOT NULL REFERENCES permissions(id) ON DELETE CASCADE,
  PRIMARY KEY (role_id, permission_id)
);
CREATE TABLE keys (
  id TEXT PRIMARY KEY,
  kind INTEGER NOT NULL,
  api_id TEXT NOT NULL,
  hash BLOB NOT NULL UNIQUE,
  start TEXT NOT NULL,
  name TEXT,
  meta TEXT NOT NULL DEFAULT '',
  identity_id TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL DEFAULT 0,
  expires INTEGER,
  enabled INTEGER NOT NULL,
  credits_remaining INTEGER,
  refill_interval TEXT,
  refill_amount INTEGER,
  refill_day INTEGER,
  last_refill_at INTEGER NOT NULL DEFAULT 0,
  ratelimits TEXT NOT NULL DEFAULT '[]',
  deleted_at INTEGER
);
CREATE INDEX keys_by_api ON keys(api_id, id);
CREATE TABLE key_permissions (
  key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
  permission_id TEXT NOT NULL REFERENCES permissions(id) ON DELETE CASCADE,
  PRIMARY KEY (key_id, permission_id)
);
CREATE TABLE key_roles (
  key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
  role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  PRIMARY KEY (key_id, role_id)
);
CREATE TABLE root_key_permissions (
  key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
  permission TEXT NOT NULL,
  PRIMARY KEY (key_id, permission)
);
)sql",
      // 2: the change feed, one row per record written, numbered in commit order. seq is the
      // rowid, so SQLite numbers a row max(seq) + 1; pruning always keeps the newest row, so a
      // number is never given twice.
      R"sql(
CREATE TABLE changes (
  seq INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  id TEXT NOT NULL,
  op INTEGER NOT NULL
);
)sql",
      // 3: the audit log, a hash chain in seq order (audit/chain.h); signed checkpoints of it;
      // and the installation's own random values, made once here.
      R"sql(
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,
  client_ip TEXT NOT NULL,
  request_id TEXT NOT NULL,
  details TEXT NOT NULL,
  hash BLOB NOT NULL
);
CREATE INDEX audit_by_actor ON audit_log(actor, seq);
CREATE INDEX audit_by_action ON audit_log(action, seq);
CREATE INDEX audit_by_target ON audit_log(target, seq);
CREATE TABLE audit_checkpoints (
  seq INTEGER PRIMARY KEY,
  hash BLOB NOT NULL,
  time_ms INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  signature BLOB NOT NULL
);
CREATE TABLE installation (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
INSERT INTO installation (name, value) VALUES ('audit_salt', randomblob(32));
)sql",
      // 4: usage: verifications counted per second and attributes, and rolled up per minute,
      // hour and day (granularity 1, 2, 3).
      R"sql(
CREATE TABLE usage_events (
  second_ms INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  identity_id TEXT NOT NULL,
  api_id TEXT NOT NULL,
  outcome TEXT NOT NULL,
  client_ip TEXT NOT NULL,
  route TEXT NOT NULL,
  tags TEXT NOT NULL,
  count INTEGER NOT NULL
);
CREATE INDEX usage_events_by_time ON usage_events(second_ms);
CREATE INDEX usage_events_by_key ON usage_events(key_id, second_ms);
CREATE TABLE usage_rollups (
  granularity INTEGER NOT NULL,
  bucket_ms INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  identity_id TEXT NOT NULL,
  api_id TEXT NOT NULL,
  outcome TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (granularity, bucket_ms, key_id, identity_id, api_id, outcome)
) WITHOUT ROWID;
CREATE INDEX usage_rollups_by_key ON usage_rollups(key_id, granularity, bucket_ms);
)sql",
      // 5: the alert outbox: alerts, webhook endpoints (secrets sealed), and one delivery per
      // alert and endpoint, created in the alert's transaction.
      R"sql(
CREATE TABLE alerts (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  severity INTEGER NOT NULL,
  summary TEXT NOT NULL,
  key_id TEXT NOT NULL,
  api_id TEXT NOT NULL,
  client_ip TEXT NOT NULL,
  evidence TEXT NOT NULL,
  dedupe_key TEXT NOT NULL,
  count INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  acknowledged_at INTEGER,
  acknowledged_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alerts_open_by_dedupe ON alerts(dedupe_key, created_at)
  WHERE acknowledged_at IS NULL;
CREATE TABLE webhook_endpoints (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  description TEXT NOT NULL,
  kinds TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  secret BLOB NOT NULL,
  previous_secret BLOB,
  previous_secret_until INTEGER,
  disabled_reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  alert_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  last_status INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries(endpoint_id, created_at);
)sql",
      // 6: secrets: KV version 2 mounts, the keyring (terms sealed by the master key), each
      // secret's metadata and its versions as envelopes (docs/envelope-format.md). The default
      // mount "secret" exists from the start.
      R"sql(
CREATE TABLE secret_mounts (
  name TEXT PRIMARY KEY,
  max_versions INTEGER NOT NULL,
  cas_required INTEGER NOT NULL,
  delete_version_after INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
INSERT INTO secret_mounts VALUES ('secret', 0, 0, 0,
  CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
CREATE TABLE secret_keyring (
  term INTEGER PRIMARY KEY,
  sealed BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE secrets (
  mount TEXT NOT NULL,
  path TEXT NOT NULL,
  current_version INTEGER NOT NULL,
  oldest_version INTEGER NOT NULL,
  max_versions INTEGER NOT NULL,
  cas_required INTEGER NOT NULL,
  delete_version_after INTEGER NOT NULL,
  custom_metadata TEXT NOT NULL,
  rotation_period INTEGER,
  next_rotation_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (mount, path)
) WITHOUT ROWID;
CREATE TABLE secret_versions (
  mount TEXT NOT NULL,
  path TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  deleted_at INTEGER,
  destroyed INTEGER NOT NULL,
  kek_term INTEGER NOT NULL,
  wrapped_key BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  PRIMARY KEY (mount, path, version)
);
CREATE INDEX secret_versions_by_term ON secret_versions(kek_term) WHERE destroyed = 0;
)sql",
      // 7: rotation and revocation. A reroll links the old key and its replacement; the old key
      // spends its replacement's balance during the overlap (credits_key_id). A revoked key keeps
      // its reason. created_by is filled in for existing keys from their audit entries.
      R"sql(
ALTER TABLE keys ADD COLUMN rerolled_from TEXT NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN rerolled_to TEXT NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN rerolled_at INTEGER;
ALTER TABLE keys ADD COLUMN credits_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN revoked_reason TEXT;
ALTER TABLE keys ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
UPDATE keys SET created_by = COALESCE((SELECT actor FROM audit_log
  WHERE action IN ('key.create', 'root_key.create') AND target = keys.id ORDER BY seq LIMIT 1), '');
CREATE INDEX keys_by_creator ON keys(created_by, id);
ALTER TABLE keys ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apis ADD COLUMN on_leak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apis ADD COLUMN max_key_age_ms INTEGER;
ALTER TABLE apis ADD COLUMN overdue_grace_ms INTEGER;
)sql",
      // 8: rate limits: overrides of ratelimit.limit's limits per namespace and identifier (or
      // pattern), and a key's own IP allowlist beside its API's.
      R"sql(
CREATE TABLE ratelimit_overrides (
  id TEXT PRIMARY KEY,
  namespace TEXT NOT NULL,
  identifier TEXT NOT NULL,
  ratelimit INTEGER NOT NULL,
  duration INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (namespace, identifier)
);
CREATE INDEX ratelimit_overrides_by_namespace ON ratelimit_overrides(namespace, id);
ALTER TABLE keys ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '[]';
)sql",
      // 9: rotation of held secrets: the pending and previous versions of a secret beside its
      // current one, the rotation's last step done or its failure, and the due secrets by date.
      R"sql(
ALTER TABLE secrets ADD COLUMN pending_version INTEGER;
ALTER TABLE secrets ADD COLUMN previous_version INTEGER;
ALTER TABLE secrets ADD COLUMN rotation_step TEXT NOT NULL DEFAULT '';
ALTER TABLE secrets ADD COLUMN rotation_failure TEXT NOT NULL DEFAULT '';
CREATE INDEX secrets_by_next_rotation ON secrets(next_rotation_at, mount, path)
  WHERE next_rotation_at IS NOT NULL;
)sql",
      // 10: the usage journal: each flush's counts as one JSON row per minute, until the minute
      // is written to usage_events (now one row per minute and attributes) and the rollups.
      R"sql(
CREATE TABLE usage_journal (
  id INTEGER PRIMARY KEY,
  minute_ms INTEGER NOT NULL,
  rows TEXT NOT NULL
);
CREATE INDEX usage_journal_by_minute ON usage_journal(minute_ms);
)sql",
      // 11: the last rotation attempt of each held secret, so that a restart still knows which
      // step failed or was interrupted; removed with its secret.
      R"sql(
CREATE TABLE rotation_outcomes (
  mount TEXT NOT NULL,
  path TEXT NOT NULL,
  result INTEGER NOT NULL,
  step TEXT NOT NULL,
  error TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (mount, path)
);
CREATE TRIGGER rotation_outcomes_of_deleted_secret AFTER DELETE ON secrets BEGIN
  DELETE FROM rotation_outcomes WHERE mount = OLD.mount AND path = OLD.path;
END;
)sql",
      // 12: the rotations queued or running, so that a restart after keyhold was killed still
      // knows which were cut short; removed with their secret.
      R"sql(
CREATE TABLE rotation_runs (
  mount TEXT NOT NULL,
  path TEXT NOT NULL,
  state INTEGER NOT NULL,
  step TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (mount, path)
);
CREATE TRIGGER rotation_runs_of_deleted_secret AFTER DELETE ON secrets BEGIN
  DELETE FROM rotation_runs WHERE mount = OLD.mount AND path = OLD.path;
END;
)sql",
      // 13: a running step's command, so that a start after keyhold was killed ends what the
      // command left running, and only that: the processes that carry the run's marker in their
      // environment, in the same boot (a group id alone may have been reused).
      R"sql(
ALTER TABLE rotation_runs ADD COLUMN command_pgid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rotation_runs ADD COLUMN command_start_ticks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rotation_runs ADD COLUMN command_boot_id TEXT NOT NULL DEFAULT '';
ALTER TABLE rotation_runs ADD COLUMN command_marker TEXT NOT NULL DEFAULT '';
)sql",
  };
  return kMigrations;
}

}  // namespace keyhold::store

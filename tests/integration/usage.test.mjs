// Usage analytics: every verification counted off the hot path, rolled up, queryable for many
// keys at once; a graceful stop flushes, a kill -9 loses at most the last flush interval.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { Server, cli, eventually } from "../lib/keyhold.mjs";

const sql = (dataDir, statement) =>
  execFileSync("sqlite3", ["-cmd", ".timeout 5000", path.join(dataDir, "keyhold.db"), statement], {
    encoding: "utf8",
  });

async function setup(args = ["--usage-flush-interval", "100ms"]) {
  const s = await new Server({ args }).start();
  const { apiId } = await s.ok("apis.createApi", { name: "helpdesk" });
  const a = await s.ok("keys.createKey", { apiId, externalId: "customer-a" });
  const b = await s.ok("keys.createKey", { apiId });
  return { s, apiId, a, b };
}

// Counts by key and outcome over everything recorded so far.
async function counts(s, extra = {}) {
  const rows = await s.ok("analytics.getVerifications", {
    since: 0,
    granularity: "day",
    groupBy: ["key", "outcome"],
    ...extra,
  });
  return Object.fromEntries(rows.map((r) => [`${r.keyId || "-"}/${r.outcome}`, r.count]));
}

test("verifications are counted per key and outcome, for many keys in one call", async () => {
  const { s, apiId, a, b } = await setup();
  for (let i = 0; i < 3; i++) await s.ok("keys.verifyKey", { key: a.key, tags: ["path=/tickets"] });
  await s.ok("keys.updateKey", { keyId: b.keyId, enabled: false });
  await s.ok("keys.verifyKey", { key: b.key });
  await s.ok("keys.verifyKey", { key: "hd_notakeyatall0000000000000000000" });
  await eventually(async () => {
    const all = await counts(s);
    assert.equal(all["-/NOT_FOUND"], 1, "unknown keys are counted without a key id");
    assert.deepEqual(await counts(s, { keyIds: [a.keyId, b.keyId] }), {
      [`${a.keyId}/VALID`]: 3,
      [`${b.keyId}/DISABLED`]: 1,
    });
  });

  const byMinute = await s.ok("analytics.getVerifications", {
    since: Date.now() - 3_600_000,
    granularity: "minute",
    groupBy: ["time", "identity"],
    apiIds: [apiId],
  });
  const identity = (await s.ok("keys.getKey", { keyId: a.keyId })).identity.id;
  const forA = byMinute.filter((r) => r.identityId === identity);
  assert.equal(forA.reduce((n, r) => n + r.count, 0), 3);
  assert.ok(forA.every((r) => r.time % 60_000 === 0), "minute buckets");

  const env = { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: s.rootKey };
  const c = await cli(["usage", "--key", a.keyId, "--group-by", "key", "--group-by", "outcome"], {
    env,
  });
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, new RegExp(`${a.keyId}\\s+VALID\\s+3`));
  await s.stop(); // writes every open minute

  // One row per minute and attributes keeps the request details: client address and tags;
  // never the key.
  const rows = sql(
    s.dataDir,
    "SELECT key_id, outcome, client_ip, tags, sum(count) FROM usage_events " +
      "GROUP BY key_id, outcome, client_ip, tags",
  );
  assert.match(rows, new RegExp(`${a.keyId}\\|VALID\\|127\\.0\\.0\\.1\\|\\["path=/tickets"\\]\\|3`));
  assert.equal(sql(s.dataDir, "SELECT count(*) FROM usage_events WHERE second_ms % 60000 != 0"), "0\n");
  assert.equal(sql(s.dataDir, "SELECT count(*) FROM usage_journal"), "0\n");
  const dump = sql(
    s.dataDir,
    "SELECT * FROM usage_events; SELECT * FROM usage_rollups; SELECT * FROM usage_journal;",
  );
  for (const secret of [a.key, b.key, s.rootKey]) assert.ok(!dump.includes(secret));
});

test("a graceful stop writes what is buffered; kill -9 loses at most the flush interval", async () => {
  const { s, a } = await setup(["--usage-flush-interval", "1h"]);
  for (let i = 0; i < 5; i++) await s.ok("keys.verifyKey", { key: a.key });
  await s.stop(); // SIGTERM: flushed though the interval is an hour away
  let again = await new Server({ dataDir: s.dataDir, args: ["--usage-flush-interval", "100ms"] }).start();
  again.rootKey = s.rootKey;
  assert.equal((await counts(again))[`${a.keyId}/VALID`], 5);
  for (let i = 0; i < 4; i++) await again.ok("keys.verifyKey", { key: a.key });
  // Written by a flush (seen in the database file: the usage log, or the journal while the
  // minute is open), then killed: nothing written is lost or counted twice.
  await eventually(() => {
    const n = sql(
      again.dataDir,
      "SELECT (SELECT coalesce(sum(count), 0) FROM usage_events) + " +
        "(SELECT coalesce(sum(json_extract(r.value, '$[7]')), 0) " +
        "FROM usage_journal j, json_each(j.rows) r)",
    );
    assert.equal(Number(n), 9);
  });
  await again.stop("SIGKILL");
  again = await new Server({ dataDir: s.dataDir }).start();
  again.rootKey = s.rootKey;
  assert.equal((await counts(again))[`${a.keyId}/VALID`], 9);
  await again.stop();
});

test("a usage journal that cannot be read stops the server at start, and is left as it is", async () => {
  const { s, a } = await setup(["--usage-flush-interval", "1h"]);
  for (let i = 0; i < 3; i++) await s.ok("keys.verifyKey", { key: a.key });
  await s.stop();
  // A journal entry of a run killed mid-minute, and a journal the store can no longer read.
  const minute = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;
  sql(
    s.dataDir,
    `INSERT INTO usage_journal (minute_ms, rows) VALUES (${minute}, ` +
      `'[["${a.keyId}","","","VALID","127.0.0.1","","",2]]')`,
  );
  sql(s.dataDir, "ALTER TABLE usage_journal RENAME COLUMN rows TO damaged");
  const refused = new Server({ dataDir: s.dataDir });
  await assert.rejects(refused.start(), /usage journal cannot be read/);
  assert.equal((await refused.exited).code, 1);
  assert.ok(!refused.stderr.includes(s.rootKey) && !refused.stderr.includes(a.key));
  sql(s.dataDir, "ALTER TABLE usage_journal RENAME COLUMN damaged TO rows");
  assert.equal(sql(s.dataDir, "SELECT count(*) FROM usage_journal"), "1\n");
  const again = await new Server({ dataDir: s.dataDir }).start();
  again.rootKey = s.rootKey;
  assert.equal((await counts(again))[`${a.keyId}/VALID`], 5, "the journaled minute is read back");
  await again.stop();
  assert.equal(sql(s.dataDir, "SELECT count(*) FROM usage_journal"), "0\n");
});

test("analytics needs read_analytics on the APIs asked about; SQL queries are refused", async () => {
  const { s, apiId, a } = await setup();
  const scoped = await s.ok("rootKeys.createRootKey", {
    permissions: [`api.${apiId}.read_analytics`],
  });
  const everywhere = await s.call("analytics.getVerifications", { since: 0 }, scoped.key);
  assert.equal(everywhere.status, 403);
  const own = await s.call("analytics.getVerifications", { since: 0, apiIds: [apiId] }, scoped.key);
  assert.equal(own.status, 200);
  const other = await s.call(
    "analytics.getVerifications",
    { since: 0, apiIds: [apiId, "api_other"] },
    scoped.key,
  );
  assert.equal(other.status, 403);

  const sqlQuery = await s.call("analytics.getVerifications", {
    query: "SELECT count(*) FROM key_verifications_v1",
  });
  assert.equal(sqlQuery.status, 400);
  assert.match(sqlQuery.text, /structured fields/);
  for (const bad of [
    { since: 0, granularity: "week" },
    { since: 0, groupBy: ["colour"] },
    { since: 0, outcomes: ["MAYBE"] },
    { since: 10, until: 5 },
    {},
  ]) {
    const r = await s.call("analytics.getVerifications", bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
  }
  assert.ok(a.key);
  await s.stop();
});

test("usage recording can be switched off; a malformed switch stops the server", async () => {
  const { s, a } = await setup(["--usage-flush-interval", "100ms", "--usage-recording", "false"]);
  try {
    for (let i = 0; i < 3; i++) await s.ok("keys.verifyKey", { key: a.key });
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(await counts(s), {});
  } finally {
    await s.stop();
  }
  await assert.rejects(new Server({ args: ["--usage-recording", "maybe"] }).start(), /usage_recording/);
});

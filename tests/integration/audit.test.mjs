// The audit log: every change recorded with who, what, from where; a hash chain that finds any
// edit; fail closed; export; and no key material anywhere in it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import dgram from "node:dgram";
import { Server, cli, eventually, tempDir } from "../lib/keyhold.mjs";

const sql = (dataDir, statement) =>
  execFileSync("sqlite3", ["-cmd", ".timeout 5000", path.join(dataDir, "keyhold.db"), statement], {
    encoding: "utf8",
  });

async function serverWithHistory() {
  const s = await new Server({ args: ["--audit-checkpoint-interval", "200ms"] }).start();
  const { apiId } = await s.ok("apis.createApi", { name: "helpdesk" });
  const created = await s.ok("keys.createKey", {
    apiId,
    name: "agent",
    externalId: "customer-1",
    meta: { email: "agent@example.com" },
    permissions: ["tickets.read"],
  });
  await s.ok("keys.updateKey", { keyId: created.keyId, name: "agent-2", enabled: false });
  await s.ok("keys.updateCredits", { keyId: created.keyId, operation: "set", value: 10 });
  await s.ok("keys.updateCredits", { keyId: created.keyId, operation: "increment", value: 5 });
  await s.ok("keys.deleteKey", { keyId: created.keyId });
  return { s, apiId, created };
}

test("every change is one entry with actor, target, client address and request id", async () => {
  const { s, apiId, created } = await serverWithHistory();
  const r = await s.call("audit.listEvents", { limit: 100 });
  assert.equal(r.status, 200);
  const events = r.body.data;
  assert.deepEqual(
    events.map((e) => e.action).reverse(),
    [
      "root_key.create", // the bootstrap root key, made by the server itself
      "api.create",
      "identity.create",
      "permission.create",
      "key.create",
      "key.update",
      "key.update_credits",
      "key.update_credits",
      "key.delete",
    ],
  );
  const rootKeyId = (await s.ok("rootKeys.listRootKeys", {}))[0].keyId;
  const bootstrap = events.at(-1);
  assert.equal(bootstrap.actor, "", "the first root key is the server's own act");
  for (const e of events.slice(0, -1)) {
    assert.equal(e.actor, rootKeyId);
    assert.equal(e.clientIp, "127.0.0.1");
    assert.match(e.requestId, /^req_/);
    assert.equal(e.outcome, "success");
    assert.match(e.hash, /^[0-9a-f]{64}$/);
  }
  const seqs = events.map((e) => e.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), "newest first");
  assert.equal(events.find((e) => e.action === "api.create").target, apiId);
  const update = events.find((e) => e.action === "key.update");
  assert.equal(update.target, created.keyId);
  assert.deepEqual(update.details, {
    before: { enabled: true, name: "agent" },
    after: { enabled: false, name: "agent-2" },
  });
  const keyCreate = events.find((e) => e.action === "key.create");
  assert.match(keyCreate.details.after.meta, /^hmac-sha256:[0-9a-f]{64}$/, "meta is digested");
  assert.deepEqual(keyCreate.details.after.permissions, ["tickets.read"]);
  const increment = events.find((e) => e.details.operation === "increment");
  assert.deepEqual(increment.details, { operation: "increment", value: 5 });

  // The key and the root key appear nowhere: not in the API's answer, not in the database's log.
  const everything = JSON.stringify(events) + sql(s.dataDir, "SELECT * FROM audit_log");
  for (const secret of [created.key, s.rootKey, "agent@example.com"]) {
    assert.ok(!everything.includes(secret), "no key, root key or meta in the audit log");
  }
  await s.stop();
});

test("filters and cursor paging", async () => {
  const { s, created } = await serverWithHistory();
  const keyEvents = await s.call("audit.listEvents", { target: created.keyId });
  assert.deepEqual(
    keyEvents.body.data.map((e) => e.action),
    ["key.delete", "key.update_credits", "key.update_credits", "key.update", "key.create"],
  );
  const family = await s.call("audit.listEvents", { action: "key.*" });
  assert.equal(family.body.data.length, 5);
  const exact = await s.call("audit.listEvents", { action: "key.update_credits" });
  assert.equal(exact.body.data.length, 2);
  const none = await s.call("audit.listEvents", { actor: "key_nobody" });
  assert.deepEqual(none.body.data, []);
  const t = keyEvents.body.data.at(-1).time;
  const since = await s.call("audit.listEvents", { since: t + 1_000_000 });
  assert.deepEqual(since.body.data, []);

  const seen = [];
  let cursor;
  for (let page = 0; page < 20; page++) {
    const r = await s.call("audit.listEvents", { limit: 2, ...(cursor ? { cursor } : {}) });
    assert.equal(r.status, 200);
    seen.push(...r.body.data.map((e) => e.seq));
    if (!r.body.pagination.hasMore) break;
    cursor = r.body.pagination.cursor;
  }
  assert.deepEqual(seen, [9, 8, 7, 6, 5, 4, 3, 2, 1]);

  const bad = await s.call("audit.listEvents", { cursor: "not-a-cursor" });
  assert.equal(bad.status, 400);
  const unknown = await s.call("audit.listEvents", { colour: "red" });
  assert.equal(unknown.status, 400);
  await s.stop();
});

test("reading the audit log needs its own permissions", async () => {
  const s = await new Server().start();
  const limited = await s.ok("rootKeys.createRootKey", { permissions: ["api.*.create_api"] });
  const list = await s.call("audit.listEvents", {}, limited.key);
  assert.equal(list.status, 403);
  assert.match(list.text, /audit\.\*\.read_event/);
  const verify = await s.call("audit.verifyChain", {}, limited.key);
  assert.equal(verify.status, 403);
  const reader = await s.ok("rootKeys.createRootKey", {
    permissions: ["audit.*.read_event", "audit.*.verify_chain"],
  });
  assert.equal((await s.call("audit.listEvents", {}, reader.key)).status, 200);
  assert.equal((await s.call("audit.verifyChain", {}, reader.key)).status, 200);

  // Refusals are audited: the operation, who, from where; once a minute per key and operation.
  for (let i = 0; i < 3; i++) {
    assert.equal((await s.call("audit.listEvents", {}, limited.key)).status, 403);
  }
  // Refused on the I/O thread (a read), audited on a worker.
  assert.equal((await s.call("permissions.listPermissions", {}, limited.key)).status, 403);
  const denied = await s.ok("audit.listEvents", { action: "request.denied", limit: 100 });
  assert.deepEqual(denied.map((e) => e.target).sort(), [
    "/v2/audit.listEvents",
    "/v2/audit.verifyChain",
    "/v2/permissions.listPermissions",
  ]);
  for (const e of denied) {
    assert.equal(e.actor, limited.keyId);
    assert.equal(e.outcome, "denied");
    assert.equal(e.clientIp, "127.0.0.1");
    assert.match(e.requestId, /^req_/);
  }
  assert.ok(!JSON.stringify(denied).includes(limited.key.slice(4)));
  const chain = await s.ok("audit.verifyChain", {});
  assert.equal(chain.valid, true);
  await s.stop();
});

test("fail closed: a change whose entry cannot be written does not happen (503)", async () => {
  const s = await new Server().start();
  const { apiId } = await s.ok("apis.createApi", { name: "x" });
  const { keyId } = await s.ok("keys.createKey", { apiId });
  sql(
    s.dataDir,
    "CREATE TRIGGER audit_jammed BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'jammed'); END;",
  );
  const refused = await s.call("keys.createKey", { apiId, name: "never" });
  assert.equal(refused.status, 503, refused.text);
  assert.ok(!refused.text.includes("jammed"), "the engine's words stay in the log");
  assert.equal((await s.call("keys.updateKey", { keyId, name: "renamed" })).status, 503);
  assert.equal(
    (await s.call("keys.updateCredits", { keyId, operation: "set", value: 7 })).status,
    503,
  );
  assert.equal((await s.call("apis.deleteApi", { apiId })).status, 503);
  sql(s.dataDir, "DROP TRIGGER audit_jammed;");

  // Nothing of the refused changes happened, in memory or on disk.
  const keys = await s.ok("apis.listKeys", { apiId });
  assert.deepEqual(keys.map((k) => k.keyId), [keyId]);
  const key = await s.ok("keys.getKey", { keyId });
  assert.equal(key.name, undefined);
  assert.equal(key.credits, undefined);
  await s.stop();
  const again = await new Server({ dataDir: s.dataDir }).start();
  again.rootKey = s.rootKey;
  assert.equal((await again.ok("apis.listKeys", { apiId })).length, 1);
  const verify = await cli(["audit", "verify", "--data-dir", s.dataDir]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  await again.stop();
});

test("kill -9 loses no acknowledged change and the chain still verifies", async () => {
  const s = await new Server().start();
  const { apiId } = await s.ok("apis.createApi", { name: "x" });
  const writes = [];
  for (let i = 0; i < 40; i++) writes.push(s.ok("keys.createKey", { apiId, name: `k${i}` }));
  await Promise.all(writes);
  await s.stop("SIGKILL");
  const v = await cli(["audit", "verify", "--data-dir", s.dataDir, "--json"]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const report = JSON.parse(v.stdout);
  assert.equal(report.valid, true);
  assert.equal(report.entries, 2 + 40, "bootstrap, API and every acknowledged key");
});

test("tampering with the database is found and the first bad entry named", async () => {
  const { s } = await serverWithHistory();
  await new Promise((r) => setTimeout(r, 500)); // a checkpoint covers the whole log
  await s.stop();
  const dir = s.dataDir;
  const verify = async (...extra) => {
    const r = await cli(["audit", "verify", "--data-dir", dir, "--json", ...extra]);
    return { code: r.code, report: JSON.parse(r.stdout || "{}"), stderr: r.stderr };
  };
  const whole = await verify();
  assert.equal(whole.code, 0);
  assert.ok(whole.report.checkpoints >= 1);
  const pristine = fs.readFileSync(path.join(dir, "keyhold.db"));
  const restore = () => {
    fs.writeFileSync(path.join(dir, "keyhold.db"), pristine);
    for (const f of ["keyhold.db-wal", "keyhold.db-shm"]) fs.rmSync(path.join(dir, f), { force: true });
  };
  const cases = [
    ["an edited field", "UPDATE audit_log SET target = 'key_other' WHERE seq = 6", 6, /changed/],
    ["an edited time", "UPDATE audit_log SET time_ms = time_ms + 1 WHERE seq = 3", 3, /changed/],
    ["a removed entry", "DELETE FROM audit_log WHERE seq = 4", 4, /missing/],
    [
      "an inserted entry",
      "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 5; UPDATE audit_log SET seq = seq - 99 WHERE seq >= 105; " +
        "INSERT INTO audit_log SELECT 5, time_ms, actor, 'key.create', 'key_forged', outcome, client_ip, request_id, details, hash FROM audit_log WHERE seq = 4",
      5,
      /changed/,
    ],
    [
      "two swapped entries",
      "UPDATE audit_log SET seq = -1 WHERE seq = 7; UPDATE audit_log SET seq = 7 WHERE seq = 8; UPDATE audit_log SET seq = 8 WHERE seq = -1",
      7,
      /changed/,
    ],
  ];
  for (const [what, statement, seq, reason] of cases) {
    restore();
    sql(dir, statement);
    const r = await verify();
    assert.equal(r.code, 1, `${what} is found`);
    assert.equal(r.report.valid, false, what);
    assert.equal(r.report.firstBad.seq, seq, what);
    assert.match(r.report.firstBad.reason, reason, what);
  }

  // Truncation leaves a whole, shorter chain: the signed checkpoints show it — the stored ones,
  // and, if those are removed too, the copies in the server's log.
  restore();
  sql(dir, "DELETE FROM audit_log WHERE seq >= 8");
  let r = await verify();
  assert.equal(r.code, 1);
  assert.equal(r.report.firstBad.seq, 8);
  assert.match(r.report.firstBad.reason, /missing/);
  sql(dir, "DELETE FROM audit_checkpoints");
  assert.equal((await verify()).code, 0, "without any checkpoint a truncation cannot be seen");
  const log = path.join(tempDir(), "server.log");
  fs.writeFileSync(log, s.stderr);
  r = await verify("--checkpoints", log);
  assert.equal(r.code, 1);
  assert.equal(r.report.firstBad.seq, 8);

  // A forged checkpoint, or one signed by another key than the pinned one, proves nothing.
  restore();
  const signer = whole.report.signer;
  sql(dir, "UPDATE audit_checkpoints SET time_ms = time_ms + 1");
  r = await verify();
  assert.equal(r.code, 1);
  assert.match(r.report.firstBad.reason, /bad signature/);
  restore();
  r = await verify("--public-key", "ab".repeat(32));
  assert.equal(r.code, 1);
  assert.match(r.report.firstBad.reason, /not by the pinned key/);
  assert.equal((await verify("--public-key", signer)).code, 0);
});

test("export writes JSON lines a SIEM can re-check, and follows new entries", async () => {
  const { s } = await serverWithHistory();
  const out = path.join(tempDir(), "audit.jsonl");
  const r = await cli(["audit", "export", "--data-dir", s.dataDir, "--output", out]);
  assert.equal(r.code, 0, r.stderr);
  const lines = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 9);
  assert.deepEqual(lines.map((l) => l.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(lines.every((l) => l.type === "event" && /^[0-9a-f]{64}$/.test(l.hash)));

  const resumed = await cli(["audit", "export", "--data-dir", s.dataDir, "--after", "7"]);
  assert.deepEqual(
    resumed.stdout.trim().split("\n").map((l) => JSON.parse(l).seq),
    [8, 9],
  );

  // --follow: a change made after the export started arrives within a poll.
  const followed = path.join(tempDir(), "follow.jsonl");
  const { spawn } = await import("node:child_process");
  const p = spawn(process.env.KEYHOLD_BIN, [
    "audit", "export", "--data-dir", s.dataDir, "--follow", "--poll", "50", "--checkpoints",
    "--after", "9", "--output", followed,
  ]);
  await s.ok("apis.createApi", { name: "later" });
  let found = false;
  for (let i = 0; i < 100 && !found; i++) {
    await new Promise((res) => setTimeout(res, 50));
    found = fs.existsSync(followed) && fs.readFileSync(followed, "utf8").includes('"api.create"');
  }
  p.kill();
  assert.ok(found, "the new entry was exported");
  const verify = await cli(["audit", "verify", "--data-dir", s.dataDir, "--checkpoints", followed]);
  assert.equal(verify.code, 0, verify.stdout);
  await s.stop();
});

test("export --syslog-addr sends each entry as one RFC 5424 datagram, authpriv.info", async () => {
  const { s, created } = await serverWithHistory();
  const receiver = dgram.createSocket("udp4");
  const got = [];
  receiver.on("message", (m) => got.push(m.toString("utf8")));
  await new Promise((resolve) => receiver.bind(0, "127.0.0.1", resolve));
  try {
    const addr = `udp:127.0.0.1:${receiver.address().port}`;
    const r = await cli(["audit", "export", "--data-dir", s.dataDir, "--syslog-addr", addr]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "", "to syslog only: nothing on stdout");
    await eventually(() => assert.equal(got.length, 9));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(got.length, 9, "one datagram per entry, no more");
    const header = /^<86>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) \S+ keyhold-audit \d+ [!-~]{1,32} - (\{.*\})$/;
    const entries = got.map((m) => {
      const match = header.exec(m); // <86>: facility authpriv (10) * 8 + severity info (6)
      assert.ok(match, m);
      assert.ok(!m.includes("\n"), "one line per datagram");
      const entry = JSON.parse(match[2]);
      // Stamped with the entry's own time, not the time it was sent.
      assert.equal(match[1], new Date(entry.time).toISOString(), m);
      return entry;
    });
    assert.deepEqual(entries.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(entries.every((e) => e.type === "event" && /^[0-9a-f]{64}$/.test(e.hash)));
    assert.ok(entries.some((e) => e.action === "key.create" && e.target === created.keyId));
    for (const m of got) {
      assert.ok(!m.includes(created.key) && !m.includes(s.rootKey), "no key material");
    }
  } finally {
    receiver.close();
  }
  const bad = await cli(["audit", "export", "--data-dir", s.dataDir, "--syslog-addr", "tcp:x:1"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--syslog-addr: .*unix:\/PATH or udp:HOST:PORT/);
  const nobody = path.join(tempDir(), "nobody.sock");
  const down = await cli(["audit", "export", "--data-dir", s.dataDir, "--syslog-addr", `unix:${nobody}`]);
  assert.equal(down.code, 3);
  assert.match(down.stderr, /cannot reach syslog socket/);
  const help = await cli(["audit", "export", "--help"]);
  assert.match(help.stdout, /--syslog-addr/);
  await s.stop();
});

test("the server checks its own chain through the API and the CLI", async () => {
  const { s } = await serverWithHistory();
  const report = await s.ok("audit.verifyChain", {});
  assert.equal(report.valid, true);
  assert.equal(report.entries, 9);
  assert.equal(report.firstBad, null);
  const env = { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: s.rootKey };
  const v = await cli(["audit", "verify"], { env });
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /whole: 9 entries/);
  const events = await cli(["audit", "events", "--action", "key.*"], { env });
  assert.equal(events.code, 0, events.stderr);
  assert.match(events.stdout, /key\.delete/);
  assert.ok(!events.stdout.includes("api.create"));
  // An edit under a running server is found by it too.
  sql(s.dataDir, "UPDATE audit_log SET actor = 'key_someone_else' WHERE seq = 2");
  const broken = await s.ok("audit.verifyChain", {});
  assert.equal(broken.valid, false);
  assert.deepEqual(broken.firstBad, { seq: 2, reason: "changed" });
  assert.equal((await cli(["audit", "verify"], { env })).code, 1);
  await s.stop();
});

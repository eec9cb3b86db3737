// Rotation and revocation over real HTTP and the command line: keys.rerollKey, keys.revokeKeys.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Server, cli, issuedKeys } from "../lib/keyhold.mjs";

let s;
let apiId;
let env;

before(async () => {
  s = await new Server().start();
  env = { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: s.rootKey };
  apiId = (await s.ok("apis.createApi", { name: "rotation" })).apiId;
});
after(async () => {
  await s.stop();
  // No key issued here, old or new, reaches the log, the database or its journal.
  const haystacks = [["server log", s.stderr]];
  for (const f of fs.readdirSync(s.dataDir)) {
    haystacks.push([f, fs.readFileSync(path.join(s.dataDir, f)).toString("latin1")]);
  }
  for (const [where, text] of haystacks) {
    for (const k of issuedKeys) assert.ok(!text.includes(k), `an issued key appears in ${where}`);
  }
});

const verify = async (key) => (await s.ok("keys.verifyKey", { key })).code;

test("rerollKey: bad input gets Unkey's error envelope, and the audit log records both keys", async () => {
  const { keyId } = await s.ok("keys.createKey", { apiId });
  for (const body of [{ keyId }, { keyId, expiration: -1 }, { keyId, expiration: "1h" },
    { keyId, expiration: 31622400001 }, { keyId, expiration: 0, extra: 1 }]) {
    const r = await s.call("keys.rerollKey", body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.ok(r.body.error.errors.length > 0);
    assert.match(r.body.meta.requestId, /^req_/);
  }
  const { keyId: fresh } = await s.ok("keys.rerollKey", { keyId, expiration: 60000 });
  const again = await s.call("keys.rerollKey", { keyId, expiration: 0 });
  assert.equal(again.status, 409);
  assert.match(again.body.error.detail, new RegExp(fresh));
  const events = await s.ok("audit.listEvents", { target: fresh });
  assert.ok(events.some((e) => e.action === "key.create"));
});

test("revokeKeys: by filter, with a reason that getKey and listKeys show", async () => {
  const a = await s.ok("keys.createKey", { apiId, externalId: "acme" });
  const b = await s.ok("keys.createKey", { apiId, externalId: "acme" });
  const c = await s.ok("keys.createKey", { apiId, externalId: "globex" });
  const r = await s.ok("keys.revokeKeys", { identity: "acme", reason: "customer offboarded" });
  assert.equal(r.revoked, 2);
  assert.deepEqual(r.keyIds.sort(), [a.keyId, b.keyId].sort());
  assert.equal(await verify(a.key), "NOT_FOUND");
  assert.equal(await verify(c.key), "VALID");
  const got = await s.ok("keys.getKey", { keyId: a.keyId });
  assert.equal(got.revocationReason, "customer offboarded");
  assert.equal(got.enabled, false);
  assert.ok(got.revokedAt > 0);
  const live = await s.ok("apis.listKeys", { apiId });
  assert.ok(!live.some((k) => k.keyId === a.keyId));
  const all = await s.ok("apis.listKeys", { apiId, includeRevoked: true });
  assert.ok(all.some((k) => k.keyId === a.keyId && k.revocationReason === "customer offboarded"));
  const events = await s.ok("audit.listEvents", { action: "key.revoke" });
  assert.equal(events.filter((e) => [a.keyId, b.keyId].includes(e.target)).length, 2);
});

test("revokeKeys: an empty filter, a missing reason and unknown names are refused", async () => {
  const k = await s.ok("keys.createKey", { apiId });
  const cases = [
    [{ reason: "x" }, 400],
    [{ apiId }, 400],
    [{ apiId, reason: "" }, 400],
    [{ keyIds: [], reason: "x" }, 400],
    [{ createdAfter: 10, createdBefore: 5, reason: "x" }, 400],
    [{ apiId: "api_nope", reason: "x" }, 404],
    [{ identity: "nobody", reason: "x" }, 404],
    [{ keyIds: [k.keyId, "key_nope"], reason: "x" }, 404],
  ];
  for (const [body, status] of cases) {
    const r = await s.call("keys.revokeKeys", body);
    assert.equal(r.status, status, JSON.stringify(body));
    assert.ok(r.body.error.type);
  }
  assert.equal(await verify(k.key), "VALID");
});

test("keys revoke and keys list --include-revoked from the command line", async () => {
  const k = await s.ok("keys.createKey", { apiId, name: "cli" });
  const none = await cli(["keys", "revoke", "--reason", "x"], { env });
  assert.equal(none.code, 2);
  const one = await cli(["keys", "revoke", k.keyId, "--reason", "suspected leak"], { env });
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /revoked 1 keys/);
  const list = await cli(["keys", "list", "--api-id", apiId, "--include-revoked"], { env });
  assert.match(list.stdout, new RegExp(`${k.keyId}.*revoked \\(suspected leak\\)`));
  const later = await s.ok("keys.createKey", { apiId });
  const bulk = await cli(["keys", "revoke", "--api-id", apiId, "--created-after",
    String(Date.now() - 60000), "--reason", "drill", "--json"], { env });
  assert.equal(bulk.code, 0, bulk.stderr);
  assert.ok(JSON.parse(bulk.stdout).keyIds.includes(later.keyId));
});

test("reportLeak: revoke or disable per API, alert, and the same answer for what is out of reach", async () => {
  const disabling = (await s.ok("apis.createApi", { name: "mail", onLeak: "disable" })).apiId;
  assert.equal((await s.ok("apis.getApi", { apiId: disabling })).onLeak, "disable");
  const a = await s.ok("keys.createKey", { apiId });
  const b = await s.ok("keys.createKey", { apiId: disabling });
  const source = "https://github.com/acme/app/blob/0a1b2c/config.yml#L12";
  assert.equal((await s.ok("keys.reportLeak", { key: a.key, source })).action, "revoked");
  assert.equal(await verify(a.key), "NOT_FOUND");
  assert.equal((await s.ok("keys.getKey", { keyId: a.keyId })).revocationReason, `leaked: ${source}`);
  assert.equal((await s.ok("keys.reportLeak", { key: b.key })).action, "disabled");
  assert.equal(await verify(b.key), "DISABLED");
  const alerts = await s.ok("alerts.list", { kind: "key.leaked" });
  assert.ok(alerts.some((x) => x.keyId === a.keyId));
  assert.ok(alerts.some((x) => x.keyId === b.keyId));

  // Already revoked, never issued, not a key at all, or out of the caller's reach: all "none".
  const c = await s.ok("keys.createKey", { apiId });
  const outsider = (await s.ok("rootKeys.createRootKey", { permissions: ["api.elsewhere.delete_key"] })).key;
  const answers = [
    await s.call("keys.reportLeak", { key: a.key }),
    await s.call("keys.reportLeak", { key: "hd_" + "A".repeat(49) }),
    await s.call("keys.reportLeak", { key: "certainly not a key" }),
    await s.call("keys.reportLeak", { key: c.key }, outsider),
  ];
  for (const r of answers) {
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.data, { action: "none" });
  }
  assert.equal(await verify(c.key), "VALID");
  const bad = await s.call("keys.reportLeak", { key: c.key, source: `found ${c.key}` });
  assert.equal(bad.status, 400);
  assert.ok(!bad.text.includes(c.key));
  assert.equal((await s.call("keys.reportLeak", {})).status, 400);
});

test("keys report-leak from the command line reads the key from standard input", async () => {
  const api = JSON.parse((await cli(["apis", "create", "--name", "leaky", "--on-leak", "disable",
    "--max-key-age", "90d", "--json"], { env })).stdout);
  assert.equal((await s.ok("apis.getApi", { apiId: api.apiId })).maxKeyAge, 90 * 86400000);
  const k = await s.ok("keys.createKey", { apiId: api.apiId });
  const r = await cli(["keys", "report-leak", "-", "--source", "ticket 1234"], { env, input: k.key + "\n" });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^disabled/);
  const again = await cli(["keys", "report-leak", "-"], { env, input: k.key + "\n" });
  assert.match(again.stdout, /nothing done/);
  const bad = await cli(["apis", "create", "--name", "x", "--max-key-age", "soon"], { env });
  assert.equal(bad.code, 2);
});

test("keys.listDue and keys due list what the rotation policy says to roll", async () => {
  const policed = (await s.ok("apis.createApi", { name: "policed", maxKeyAge: 3600000 })).apiId;
  const k = await s.ok("keys.createKey", { apiId: policed, name: "hourly" });
  assert.deepEqual(await s.ok("keys.listDue", { apiId: policed, within: 0 }), []);
  const soon = await s.ok("keys.listDue", { apiId: policed, within: 7200000 });
  assert.equal(soon.length, 1);
  assert.equal(soon[0].keyId, k.keyId);
  assert.equal(soon[0].overdue, false);
  assert.equal(soon[0].dueAt, soon[0].createdAt + 3600000);
  const cliDue = await cli(["keys", "due", "--api-id", policed, "--within", "2h"], { env });
  assert.equal(cliDue.code, 0, cliDue.stderr);
  assert.match(cliDue.stdout, new RegExp(`${k.keyId}.*due.*hourly`));
  assert.equal((await s.call("keys.listDue", { within: -1 })).status, 400);
  assert.equal((await s.call("keys.listDue", { apiId: "api_nope" })).status, 404);
  assert.equal((await s.call("apis.createApi", { name: "x", maxKeyAge: 1000 })).status, 400);
  assert.equal((await s.call("apis.createApi", { name: "x", overdueGrace: 1000 })).status, 400);
});

test("keys import moves in keys from JSON lines", async () => {
  const target = (await s.ok("apis.createApi", { name: "imported" })).apiId;
  const lines = ["legacy-one", "legacy-two", "legacy-one"].map((k) => JSON.stringify({ hash: k })).join("\n");
  const r = await cli(["keys", "import", "-", "--api-id", target, "--migration", "plaintext"], { env, input: lines + "\n" });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /imported 2 keys, 1 duplicates skipped/);
  assert.equal(await verify("legacy-two"), "VALID");
  const bad = await cli(["keys", "import", "-", "--api-id", target, "--migration", "plaintext"], { env, input: "legacy-three\n" });
  assert.equal(bad.code, 2);
  assert.ok(!bad.stderr.includes("legacy-three"));
});

test("apis.updateApi and apis update change the leak response and rotation policy of a live API", async () => {
  const api = (await s.ok("apis.createApi", { name: "crm" })).apiId;
  const k = await s.ok("keys.createKey", { apiId: api });
  const updated = await s.ok("apis.updateApi", { apiId: api, onLeak: "disable", maxKeyAge: 30 * 86400000,
    overdueGrace: 86400000, ipAllowlist: ["10.0.0.0/8", "127.0.0.1/32"] });
  assert.deepEqual(updated, { id: api, name: "crm", onLeak: "disable", maxKeyAge: 30 * 86400000,
    overdueGrace: 86400000, ipAllowlist: ["10.0.0.0/8", "127.0.0.1/32"] });
  assert.equal((await s.ok("keys.reportLeak", { key: k.key })).action, "disabled");
  // null removes the policy (and its grace) and the allowlist; absent fields stay.
  const cleared = await s.ok("apis.updateApi", { apiId: api, maxKeyAge: null, ipAllowlist: null });
  assert.deepEqual(cleared, { id: api, name: "crm", onLeak: "disable" });
  for (const body of [{ apiId: api, overdueGrace: 1000 }, { apiId: api, maxKeyAge: 5 },
    { apiId: api, onLeak: "explode" }, { apiId: api, name: "" }, { apiId: api, ipAllowlist: ["nope"] },
    { apiId: api, extra: true }, {}]) {
    const r = await s.call("apis.updateApi", body);
    assert.equal(r.status, 400, JSON.stringify(body));
  }
  assert.equal((await s.call("apis.updateApi", { apiId: "api_missing", name: "x" })).status, 404);
  const reader = (await s.ok("rootKeys.createRootKey", { permissions: [`api.${api}.read_api`] })).key;
  assert.equal((await s.call("apis.updateApi", { apiId: api, name: "x" }, reader)).status, 403);
  const events = await s.ok("audit.listEvents", { target: api });
  assert.equal(events.filter((e) => e.action === "api.update").length, 2);

  const cliUpdate = await cli(["apis", "update", api, "--on-leak", "revoke", "--max-key-age", "90d", "--json"], { env });
  assert.equal(cliUpdate.code, 0, cliUpdate.stderr);
  assert.equal(JSON.parse(cliUpdate.stdout).maxKeyAge, 90 * 86400000);
  const none = await cli(["apis", "update", api], { env });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /nothing to change/);
  const both = await cli(["apis", "update", api, "--no-rotation-policy", "--max-key-age", "9d"], { env });
  assert.equal(both.code, 2);
  const off = await cli(["apis", "update", api, "--no-rotation-policy"], { env });
  assert.equal(off.code, 0, off.stderr);
  assert.equal((await s.ok("apis.getApi", { apiId: api })).maxKeyAge, undefined);
});

// The keys API over real HTTP against the built binary.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Server, issuedKeys, responseBodies } from "../lib/keyhold.mjs";

let s;
let apiId;

before(async () => {
  s = await new Server().start();
  apiId = (await s.ok("apis.createApi", { name: "helpdesk" })).apiId;
});
after(async () => {
  const { code } = await s.stop();
  assert.equal(code, 0, "SIGTERM exits 0");
  // No plaintext key issued during the suite may reach the log, the database or its journal.
  assert.ok(issuedKeys.size > 10);
  const haystacks = [["server log", s.stderr]];
  for (const f of fs.readdirSync(s.dataDir)) {
    haystacks.push([f, fs.readFileSync(path.join(s.dataDir, f)).toString("latin1")]);
  }
  for (const [where, text] of haystacks) {
    for (const k of issuedKeys) assert.ok(!text.includes(k), `an issued key appears in ${where}`);
  }
  // Standard output carries the bootstrap root key once, and nothing else secret.
  for (const k of issuedKeys) {
    if (k !== s.rootKey) assert.ok(!s.stdout.includes(k));
  }
});

async function keyCount() {
  const d = await s.call("apis.listKeys", { apiId, limit: 100 });
  return d.body.data.length;
}

test("createKey returns the key once and getKey never shows it", async () => {
  const { keyId, key } = await s.ok("keys.createKey", { apiId, prefix: "hd", name: "agent inbox", meta: { plan: "pro" } });
  assert.match(key, /^hd_[0-9A-Za-z]{49}$/);
  const got = await s.ok("keys.getKey", { keyId });
  assert.equal(got.keyId, keyId);
  assert.equal(got.start, key.slice(0, 7));
  assert.equal(got.name, "agent inbox");
  assert.deepEqual(got.meta, { plan: "pro" });
  assert.ok(!JSON.stringify(got).includes(key));
});

test("verifyKey reaches every outcome in the spec's order, always with HTTP 200", async () => {
  const expect = async (body, code) => {
    const r = await s.call("keys.verifyKey", body);
    assert.equal(r.status, 200);
    assert.equal(r.body.data.code, code, JSON.stringify(r.body));
    assert.equal(r.body.data.valid, code === "VALID");
    return r.body.data;
  };
  const { key, keyId } = await s.ok("keys.createKey", {
    apiId, permissions: ["documents.*"], credits: { remaining: 2 }, externalId: "customer-42",
  });
  const v = await expect({ key }, "VALID");
  assert.equal(v.keyId, keyId);
  assert.equal(v.credits, 1);
  assert.equal(v.identity.externalId, "customer-42");
  await expect({ key, permissions: "documents.read AND (documents.write OR admin)" }, "VALID");
  await expect({ key, permissions: "admin" }, "INSUFFICIENT_PERMISSIONS");
  await expect({ key }, "USAGE_EXCEEDED");
  await s.ok("keys.updateCredits", { keyId, operation: "set", value: 5 });
  await expect({ key, credits: { cost: 5 } }, "VALID");
  await s.ok("keys.updateCredits", { keyId, operation: "increment", value: 1 });
  await s.ok("keys.updateKey", { keyId, enabled: false });
  await expect({ key, permissions: "admin" }, "DISABLED"); // disabled is checked before permissions
  await s.ok("keys.updateKey", { keyId, enabled: true, expires: Date.now() + 400 });
  await new Promise((r) => setTimeout(r, 500));
  await expect({ key }, "EXPIRED");
  await s.ok("keys.deleteKey", { keyId });
  await expect({ key }, "NOT_FOUND");
  // A key with a broken check is NOT_FOUND without a lookup.
  await expect({ key: key.slice(0, -1) + (key.endsWith("a") ? "b" : "a") }, "NOT_FOUND");
  await expect({ key: "not-a-key" }, "NOT_FOUND");
});

test("IP allowlist gives FORBIDDEN from outside", async () => {
  const { apiId: locked } = await s.ok("apis.createApi", { name: "internal", ipAllowlist: ["10.0.0.0/8"] });
  const { key } = await s.ok("keys.createKey", { apiId: locked });
  const r = await s.ok("keys.verifyKey", { key });
  assert.equal(r.code, "FORBIDDEN");
});

test("a root key without verify permission for the key's API gets NOT_FOUND", async () => {
  const { apiId: other } = await s.ok("apis.createApi", { name: "other" });
  const { key } = await s.ok("keys.createKey", { apiId: other });
  const limited = await s.ok("rootKeys.createRootKey", { name: "v", permissions: [`api.${apiId}.verify_key`] });
  const r = await s.call("keys.verifyKey", { key }, limited.key);
  assert.equal(r.status, 200);
  assert.equal(r.body.data.code, "NOT_FOUND");
  assert.equal(r.body.data.keyId, undefined);
  const forbidden = await s.call("keys.createKey", { apiId }, limited.key);
  assert.equal(forbidden.status, 403);
  assert.match(forbidden.body.error.detail, /create_key/);
  const escalate = await s.call("rootKeys.createRootKey", { permissions: ["*"] }, limited.key);
  assert.equal(escalate.status, 403);
});

test("authentication failures are 401 with distinct types", async () => {
  const types = {};
  types.missing = (await s.call("apis.getApi", { apiId }, null)).body.error.type;
  types.malformed = (await s.call("apis.getApi", { apiId }, null, { headers: { authorization: "Basic abc" } })).body.error.type;
  types.badFormat = (await s.call("apis.getApi", { apiId }, "khr_notakey")).body.error.type;
  const { key } = await s.ok("keys.createKey", { apiId });
  types.unknown = (await s.call("apis.getApi", { apiId }, key)).body.error.type;
  const temp = await s.ok("rootKeys.createRootKey", { permissions: [`api.${apiId}.read_api`] });
  await s.ok("rootKeys.deleteRootKey", { keyId: temp.keyId });
  types.deleted = (await s.call("apis.getApi", { apiId }, temp.key)).body.error.type;
  for (const t of Object.values(types)) assert.match(t, /^https:\/\/.+\/authentication\//);
  assert.match(types.missing, /missing$/);
  assert.match(types.malformed, /malformed$/);
  assert.match(types.badFormat, /malformed$/);
  assert.match(types.unknown, /key_not_found$/);
  assert.match(types.deleted, /key_not_found$/);
});

test("bad input gets 400 with locations and changes nothing", async () => {
  const before = await keyCount();
  const cases = [
    [{ raw: "{not json" }, "body"],
    [{ raw: "[1,2]" }, "body"],
    [{ raw: '{"apiId":"\xff\xfe"}', bytes: Buffer.from([0x7b, 0x22, 0x61, 0x70, 0x69, 0x49, 0x64, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) }, "body"],
    [{ body: { apiId: 5 } }, "body.apiId"],
    [{ body: { apiId, unknownField: true } }, "body.unknownField"],
    [{ body: { apiId, name: "x".repeat(300) } }, "body.name"],
    [{ body: { apiId, byteLength: 8 } }, "body.byteLength"],
    [{ body: { apiId, byteLength: 1e300 } }, "body.byteLength"],
    [{ body: { apiId, prefix: "bad-prefix" } }, "body"],
    [{ body: { apiId, permissions: Array(1001).fill("a") } }, "body.permissions"],
    [{ body: { apiId, credits: { remaining: -1 } } }, "body.credits.remaining"],
    [{ body: { apiId, credits: { remaining: 1, refill: { interval: "hourly", amount: 1 } } } }, "body.credits.refill.interval"],
    [{ body: { apiId, ratelimits: [{ name: "r", limit: 1, duration: 10 }] } }, "body.ratelimits[0].duration"],
    [{ body: { apiId, meta: "not an object" } }, "body.meta"],
    [{ body: { apiId, expires: 1000 } }, "body"],
    [{ body: { apiId, recoverable: true } }, "body"],
    [{ body: {} }, "body.apiId"],
  ];
  for (const [c, location] of cases) {
    const r = c.bytes
      ? await fetch(`${s.url}/v2/keys.createKey`, { method: "POST", headers: { authorization: `Bearer ${s.rootKey}` }, body: c.bytes })
          .then(async (res) => ({ status: res.status, body: await res.json() }))
      : await s.call("keys.createKey", c.body, s.rootKey, { raw: c.raw });
    assert.equal(r.status, 400, JSON.stringify(c.body ?? c.raw));
    assert.equal(r.body.error.status, 400);
    assert.match(r.body.meta.requestId, /^req_/);
    assert.ok(r.body.error.errors.some((e) => e.location === location),
      `${JSON.stringify(c.body ?? c.raw)} -> ${JSON.stringify(r.body.error.errors)}`);
  }
  assert.equal(await keyCount(), before);
});

test("a call without a body is a 400 saying a JSON object is needed, {} being enough", async () => {
  for (const op of ["apis.listApis", "keys.createKey", "ratelimit.multiLimit", "secrets.listDue"]) {
    const r = await s.call(op, null, s.rootKey, { raw: "" });
    assert.equal(r.status, 400, `${op}: ${r.text}`);
    assert.equal(r.body.error.status, 400);
    assert.match(r.body.meta.requestId, /^req_/);
    assert.deepEqual(r.body.error.errors.map((e) => e.location), ["body"], r.text);
    assert.match(r.body.error.errors[0].message, /missing: it must be a JSON object/, r.text);
  }
  assert.equal((await s.call("apis.listApis", {})).status, 200);
  assert.equal((await s.call("secrets.listDue", {})).status, 200);
});

test("bodies over 1 MiB get 413", async () => {
  const big = JSON.stringify({ apiId, name: "x".repeat(1100 * 1024) });
  const r = await s.call("keys.createKey", null, s.rootKey, { raw: big });
  assert.equal(r.status, 413);
  assert.equal(r.body.error.status, 413);
});

test("unknown resources are 404 and unknown routes are 404", async () => {
  assert.equal((await s.call("keys.getKey", { keyId: "key_doesnotexist" })).status, 404);
  assert.equal((await s.call("apis.getApi", { apiId: "api_nope" })).status, 404);
  assert.equal((await s.call("keys.createKey", { apiId: "api_nope" })).status, 404);
  assert.equal((await s.call("keys.noSuchThing", {})).status, 404);
  const live = await fetch(`${s.url}/v2/liveness`);
  assert.equal(live.status, 200);
});

test("listKeys pages with a cursor and filters by externalId", async () => {
  const { apiId: paged } = await s.ok("apis.createApi", { name: "paged" });
  const ids = new Set();
  for (let i = 0; i < 7; i++) ids.add((await s.ok("keys.createKey", { apiId: paged, externalId: i % 2 ? "odd" : "even" })).keyId);
  const seen = new Set();
  let cursor;
  let pages = 0;
  for (;;) {
    const r = await s.call("apis.listKeys", { apiId: paged, limit: 3, ...(cursor ? { cursor } : {}) });
    r.body.data.forEach((k) => seen.add(k.keyId));
    pages++;
    if (!r.body.pagination.hasMore) break;
    cursor = r.body.pagination.cursor;
  }
  assert.deepEqual(seen, ids);
  assert.equal(pages, 3);
  const odd = await s.call("apis.listKeys", { apiId: paged, externalId: "odd" });
  assert.equal(odd.body.data.length, 3);
});

test("roles, permissions and identities", async () => {
  await s.ok("permissions.createPermission", { name: "Read tickets", slug: "tickets.read" });
  const dup = await s.call("permissions.createPermission", { name: "again", slug: "tickets.read" });
  assert.equal(dup.status, 409);
  const { roleId } = await s.ok("permissions.createRole", { name: "agent", permissions: ["tickets.read", "tickets.reply"] });
  const role = await s.ok("permissions.getRole", { role: roleId });
  assert.deepEqual(role.permissions.map((p) => p.slug).sort(), ["tickets.read", "tickets.reply"]);
  const { keyId, key } = await s.ok("keys.createKey", { apiId });
  await s.ok("keys.addRoles", { keyId, roles: ["agent"] });
  let v = await s.ok("keys.verifyKey", { key, permissions: "tickets.reply" });
  assert.equal(v.code, "VALID");
  assert.deepEqual(v.roles, ["agent"]);
  await s.ok("keys.removeRoles", { keyId, roles: ["agent"] });
  v = await s.ok("keys.verifyKey", { key, permissions: "tickets.reply" });
  assert.equal(v.code, "INSUFFICIENT_PERMISSIONS");
  const perms = await s.ok("keys.setPermissions", { keyId, permissions: ["tickets.read", "tickets.close"] });
  assert.deepEqual(perms.map((p) => p.slug).sort(), ["tickets.close", "tickets.read"]);
  await s.ok("identities.createIdentity", { externalId: "org-7", meta: { tier: "gold" } });
  assert.equal((await s.call("identities.createIdentity", { externalId: "org-7" })).status, 409);
  const ident = await s.ok("identities.getIdentity", { identity: "org-7" });
  assert.deepEqual(ident.meta, { tier: "gold" });
  await s.ok("identities.deleteIdentity", { identity: "org-7" });
  assert.equal((await s.call("identities.getIdentity", { identity: "org-7" })).status, 404);
});

test("no response ever echoes a key outside createKey/createRootKey", async () => {
  for (const body of responseBodies) {
    let json;
    try {
      json = JSON.parse(body);
    } catch {
      continue;
    }
    const isIssue = json?.data && typeof json.data.key === "string" && json.data.keyId;
    for (const k of issuedKeys) {
      if (isIssue && json.data.key === k) continue;
      assert.ok(!body.includes(k), `a response body contains an issued key: ${body.slice(0, 120)}`);
    }
  }
});

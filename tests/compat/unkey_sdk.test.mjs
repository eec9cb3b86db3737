// keyhold driven through the real @unkey/api SDK (2.x), which validates every response shape.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Unkey } from "@unkey/api";
import * as errors from "@unkey/api/models/errors";
import { Server } from "../lib/keyhold.mjs";

let s;
let unkey;
let apiId;

before(async () => {
  s = await new Server().start();
  unkey = new Unkey({ rootKey: s.rootKey, serverURL: s.url });
  apiId = (await unkey.apis.createApi({ name: "compat" })).data.apiId;
});
after(() => s.stop());

async function verify(key, extra = {}) {
  const r = await unkey.keys.verifyKey({ key, ...extra });
  return r.data;
}

test("createApi / getApi / deleteApi", async () => {
  const got = await unkey.apis.getApi({ apiId });
  assert.equal(got.data.id, apiId);
  assert.equal(got.data.name, "compat");
  assert.match(got.meta.requestId, /^req_/);
  const { data } = await unkey.apis.createApi({ name: "short-lived" });
  await unkey.apis.deleteApi({ apiId: data.apiId });
  await assert.rejects(unkey.apis.getApi({ apiId: data.apiId }), errors.NotFoundErrorResponse);
});

test("createKey and verifyKey reach every implemented outcome", async () => {
  const { data: k } = await unkey.keys.createKey({
    apiId, prefix: "cx", name: "customer", externalId: "cust_1", meta: { plan: "team" },
    permissions: ["tickets.*"], credits: { remaining: 1 },
  });
  assert.match(k.key, /^cx_/);
  let v = await verify(k.key, { permissions: "tickets.read AND tickets.write" });
  assert.equal(v.code, "VALID");
  assert.equal(v.valid, true);
  assert.equal(v.keyId, k.keyId);
  assert.equal(v.credits, 0);
  assert.deepEqual(v.meta, { plan: "team" });
  assert.equal(v.identity.externalId, "cust_1");
  assert.equal((await verify(k.key, { permissions: "admin" })).code, "INSUFFICIENT_PERMISSIONS");
  assert.equal((await verify(k.key)).code, "USAGE_EXCEEDED");

  const { data: off } = await unkey.keys.createKey({ apiId, enabled: false });
  assert.equal((await verify(off.key)).code, "DISABLED");

  const { data: soon } = await unkey.keys.createKey({ apiId, expires: Date.now() + 300 });
  await new Promise((r) => setTimeout(r, 400));
  assert.equal((await verify(soon.key)).code, "EXPIRED");

  const { data: fenced } = await unkey.apis.createApi({ name: "fenced" });
  // The allowlist is keyhold's extension to createApi; set it over plain HTTP.
  const fencedApi = await s.ok("apis.createApi", { name: "fenced2", ipAllowlist: ["192.0.2.0/24"] });
  const { data: fk } = await unkey.keys.createKey({ apiId: fencedApi.apiId });
  assert.equal((await verify(fk.key)).code, "FORBIDDEN");
  assert.ok(fenced.apiId);

  // Rate limits: the SDK sends them and reads the answer's ratelimits.
  const limited = { name: "requests", limit: 2, duration: 60000, autoApply: true };
  const { data: rk } = await unkey.keys.createKey({ apiId, ratelimits: [limited] });
  assert.equal((await verify(rk.key)).code, "VALID");
  v = await verify(rk.key);
  assert.equal(v.ratelimits[0].remaining, 0);
  v = await verify(rk.key);
  assert.equal(v.code, "RATE_LIMITED");
  assert.equal(v.ratelimits[0].exceeded, true);
  const { data: plain } = await unkey.keys.createKey({ apiId });
  const { data: named } = await unkey.keys.verifyKey({
    key: plain.key,
    ratelimits: [{ name: "tokens", cost: 3, limit: 10, duration: 60000 }],
  });
  assert.equal(named.code, "VALID");
  assert.equal(named.ratelimits[0].remaining, 7);
  await assert.rejects(unkey.keys.verifyKey({ key: plain.key, ratelimits: [{ name: "nope" }] }),
    errors.BadRequestErrorResponse);

  v = await verify("cx_definitelyNotAKeyOfOurs0000000000000000000000abcdef");
  assert.equal(v.code, "NOT_FOUND");
  assert.equal(v.valid, false);
});

test("getKey, whoami, updateKey, updateCredits, deleteKey", async () => {
  const { data: k } = await unkey.keys.createKey({ apiId, name: "before", credits: { remaining: 10 } });
  const got = await unkey.keys.getKey({ keyId: k.keyId });
  assert.equal(got.data.keyId, k.keyId);
  assert.equal(got.data.name, "before");
  assert.equal(got.data.credits.remaining, 10);
  assert.equal(got.data.plaintext, undefined);
  const me = await unkey.keys.whoami({ key: k.key });
  assert.equal(me.data.keyId, k.keyId);
  await unkey.keys.updateKey({ keyId: k.keyId, name: "after", meta: { x: 1 }, expires: null });
  const after = await unkey.keys.getKey({ keyId: k.keyId });
  assert.equal(after.data.name, "after");
  assert.deepEqual(after.data.meta, { x: 1 });
  const c1 = await unkey.keys.updateCredits({ keyId: k.keyId, operation: "decrement", value: 3 });
  assert.equal(c1.data.remaining, 7);
  const c2 = await unkey.keys.updateCredits({ keyId: k.keyId, operation: "set", value: null });
  assert.equal(c2.data.remaining, null);
  await unkey.keys.deleteKey({ keyId: k.keyId });
  await assert.rejects(unkey.keys.getKey({ keyId: k.keyId }), errors.NotFoundErrorResponse);
  assert.equal((await verify(k.key)).code, "NOT_FOUND");
  const { data: p } = await unkey.keys.createKey({ apiId });
  await unkey.keys.deleteKey({ keyId: p.keyId, permanent: true });
  assert.equal((await verify(p.key)).code, "NOT_FOUND");
});

test("listKeys across several pages", async () => {
  const { data: a } = await unkey.apis.createApi({ name: "many" });
  const ids = new Set();
  for (let i = 0; i < 12; i++) ids.add((await unkey.keys.createKey({ apiId: a.apiId })).data.keyId);
  const seen = new Set();
  let pages = 0;
  let page = await unkey.apis.listKeys({ apiId: a.apiId, limit: 5 });
  while (page) {
    pages++;
    for (const k of page.result.data) seen.add(k.keyId);
    page = await page.next();
  }
  assert.deepEqual(seen, ids);
  assert.equal(pages, 3);
});

test("identities", async () => {
  const { data } = await unkey.identities.createIdentity({ externalId: "org_42", meta: { seats: 5 } });
  assert.match(data.identityId, /^id_/);
  const got = await unkey.identities.getIdentity({ identity: "org_42" });
  assert.equal(got.data.id, data.identityId);
  assert.deepEqual(got.data.meta, { seats: 5 });
  const upd = await unkey.identities.updateIdentity({ identity: "org_42", meta: { seats: 6 } });
  assert.deepEqual(upd.data.meta, { seats: 6 });
  const list = await unkey.identities.listIdentities({ limit: 10 });
  assert.ok(list.result.data.some((i) => i.externalId === "org_42"));
  await unkey.identities.deleteIdentity({ identity: "org_42" });
  await assert.rejects(unkey.identities.getIdentity({ identity: "org_42" }), errors.NotFoundErrorResponse);
});

test("permissions, roles and key assignments", async () => {
  const { data: perm } = await unkey.permissions.createPermission({ name: "Send mail", slug: "mail.send" });
  assert.equal((await unkey.permissions.getPermission({ permission: perm.permissionId })).data.slug, "mail.send");
  const { data: role } = await unkey.permissions.createRole({ name: "sender", description: "sends mail" });
  const gotRole = await unkey.permissions.getRole({ role: role.roleId });
  assert.equal(gotRole.data.name, "sender");
  assert.ok((await unkey.permissions.listPermissions({})).result.data.some((p) => p.slug === "mail.send"));
  assert.ok((await unkey.permissions.listRoles({})).result.data.some((r) => r.name === "sender"));

  const { data: k } = await unkey.keys.createKey({ apiId });
  const added = await unkey.keys.addPermissions({ keyId: k.keyId, permissions: ["mail.send", "mail.read"] });
  assert.deepEqual(added.data.map((p) => p.slug).sort(), ["mail.read", "mail.send"]);
  const set = await unkey.keys.setPermissions({ keyId: k.keyId, permissions: ["mail.read"] });
  assert.deepEqual(set.data.map((p) => p.slug), ["mail.read"]);
  const removed = await unkey.keys.removePermissions({ keyId: k.keyId, permissions: ["mail.read"] });
  assert.deepEqual(removed.data, []);
  const roles = await unkey.keys.addRoles({ keyId: k.keyId, roles: ["sender"] });
  assert.deepEqual(roles.data.map((r) => r.name), ["sender"]);
  assert.deepEqual((await unkey.keys.setRoles({ keyId: k.keyId, roles: [] })).data, []);
  await unkey.keys.addRoles({ keyId: k.keyId, roles: ["sender"] });
  assert.deepEqual((await unkey.keys.removeRoles({ keyId: k.keyId, roles: ["sender"] })).data, []);

  await unkey.permissions.deleteRole({ role: "sender" });
  await unkey.permissions.deletePermission({ permission: "mail.send" });
  await assert.rejects(unkey.permissions.getRole({ role: "sender" }), errors.NotFoundErrorResponse);
});

test("typed errors for 400, 401, 403 and 404", async () => {
  await assert.rejects(unkey.keys.createKey({ apiId, expires: 1000 }), (e) => {
    assert.ok(e instanceof errors.BadRequestErrorResponse);
    assert.equal(e.statusCode, 400);
    assert.ok(e.data$.error.errors.length > 0);
    return true;
  });
  const stranger = new Unkey({ rootKey: "khr_notAValidRootKeyAtAll000000000000000000000000000", serverURL: s.url });
  await assert.rejects(stranger.apis.getApi({ apiId }), errors.UnauthorizedErrorResponse);
  const { data: narrow } = await unkey.keys.createKey({ apiId }); // an app key is no root key
  const app = new Unkey({ rootKey: narrow.key, serverURL: s.url });
  await assert.rejects(app.apis.getApi({ apiId }), errors.UnauthorizedErrorResponse);
  const limited = await s.ok("rootKeys.createRootKey", { permissions: [`api.${apiId}.verify_key`] });
  const weak = new Unkey({ rootKey: limited.key, serverURL: s.url });
  await assert.rejects(weak.keys.createKey({ apiId }), (e) => {
    assert.ok(e instanceof errors.ForbiddenErrorResponse);
    assert.equal(e.statusCode, 403);
    return true;
  });
  await assert.rejects(unkey.keys.getKey({ keyId: "key_missing" }), errors.NotFoundErrorResponse);
});

test("ratelimit.limit and multiLimit through the SDK", async () => {
  const check = { namespace: "api.requests", identifier: "user_1", limit: 1, duration: 60000 };
  const { data: first } = await unkey.ratelimit.limit(check);
  assert.equal(first.success, true);
  assert.equal(first.remaining, 0);
  const { data: second } = await unkey.ratelimit.limit(check);
  assert.equal(second.success, false);
  const { data: multi } = await unkey.ratelimit.multiLimit([
    { ...check, identifier: "user_2" },
    { ...check, identifier: "user_3", cost: 0 },
  ]);
  assert.equal(multi.passed, true);
  assert.deepEqual(multi.limits.map((l) => l.remaining), [0, 1]);
});

test("rate-limit overrides through the SDK: set, get, list, applied, deleted", async () => {
  const namespace = "sdk.overrides";
  const { data: set } = await unkey.ratelimit.setOverride(
    { namespace, identifier: "vip_*", limit: 3, duration: 60000 });
  assert.match(set.overrideId, /^rlo_/);
  const { data: got } = await unkey.ratelimit.getOverride({ namespace, identifier: "vip_*" });
  assert.deepEqual(got, { overrideId: set.overrideId, identifier: "vip_*", limit: 3, duration: 60000 });
  const listed = await unkey.ratelimit.listOverrides({ namespace });
  assert.deepEqual(listed.result.data.map((o) => o.overrideId), [set.overrideId]);
  assert.equal(listed.result.pagination.hasMore, false);
  const { data: applied } = await unkey.ratelimit.limit(
    { namespace, identifier: "vip_1", limit: 1, duration: 60000 });
  assert.deepEqual([applied.success, applied.limit, applied.remaining, applied.overrideId],
    [true, 3, 2, set.overrideId]);
  const { data: multi } = await unkey.ratelimit.multiLimit(
    [{ namespace, identifier: "vip_2", limit: 1, duration: 60000 }]);
  assert.equal(multi.limits[0].overrideId, set.overrideId);
  await unkey.ratelimit.deleteOverride({ namespace, identifier: "vip_*" });
  await assert.rejects(unkey.ratelimit.getOverride({ namespace, identifier: "vip_*" }),
    errors.NotFoundErrorResponse);
  const { data: plain } = await unkey.ratelimit.limit(
    { namespace, identifier: "vip_3", limit: 1, duration: 60000 });
  assert.equal(plain.limit, 1);
  assert.equal(plain.overrideId, undefined);
});

test("rerollKey: the old key works through the overlap and both spend one balance", async () => {
  const { data: old } = await unkey.keys.createKey({
    apiId, prefix: "rr", name: "rolling", externalId: "cust_roll", meta: { plan: "pro" },
    permissions: ["tickets.read"], credits: { remaining: 5 },
  });
  const { data: fresh } = await unkey.keys.rerollKey({ keyId: old.keyId, expiration: 3600000 });
  assert.notEqual(fresh.keyId, old.keyId);
  assert.match(fresh.key, /^rr_/);
  assert.equal((await verify(old.key, { permissions: "tickets.read" })).code, "VALID");
  const v = await verify(fresh.key, { credits: { cost: 2 } });
  assert.equal(v.code, "VALID");
  assert.equal(v.credits, 2); // 5 - 1 through the old key - 2 through the new one
  assert.deepEqual(v.meta, { plan: "pro" });
  assert.equal(v.identity.externalId, "cust_roll");
  assert.equal((await verify(old.key, { credits: { cost: 3 } })).code, "USAGE_EXCEEDED");
  assert.equal((await verify(old.key, { credits: { cost: 2 } })).code, "VALID");
  assert.equal((await verify(fresh.key)).code, "USAGE_EXCEEDED");

  const oldView = (await unkey.keys.getKey({ keyId: old.keyId })).data;
  assert.equal(oldView.credits.remaining, 0);
  assert.ok(oldView.expires > Date.now() && oldView.expires <= Date.now() + 3600000);
  // keyhold's lineage fields, beyond what the SDK's types name: read over plain HTTP.
  assert.equal((await s.ok("keys.getKey", { keyId: old.keyId })).rerolledTo, fresh.keyId);
  assert.equal((await s.ok("keys.getKey", { keyId: fresh.keyId })).rerolledFrom, old.keyId);

  await assert.rejects(unkey.keys.rerollKey({ keyId: old.keyId, expiration: 0 }), (e) => {
    assert.equal(e.statusCode, 409);
    return true;
  });
});

test("rerollKey with expiration 0 ends the old key at once; bad rerolls are refused", async () => {
  const { data: old } = await unkey.keys.createKey({ apiId });
  const { data: fresh } = await unkey.keys.rerollKey({ keyId: old.keyId, expiration: 0 });
  assert.equal((await verify(old.key)).code, "EXPIRED");
  assert.equal((await verify(fresh.key)).code, "VALID");
  await assert.rejects(unkey.keys.rerollKey({ keyId: "key_missing", expiration: 0 }),
    errors.NotFoundErrorResponse);
  await unkey.keys.deleteKey({ keyId: fresh.keyId });
  await assert.rejects(unkey.keys.rerollKey({ keyId: fresh.keyId, expiration: 0 }),
    errors.NotFoundErrorResponse);
  const { data: k } = await unkey.keys.createKey({ apiId });
  await assert.rejects(unkey.keys.rerollKey({ keyId: k.keyId, expiration: 400 * 86400000 }),
    errors.BadRequestErrorResponse);
});

test("migrateKeys: hashed and plaintext keys from another system verify beside keyhold keys", async () => {
  const { createHash } = await import("node:crypto");
  const sha = (k, enc) => createHash("sha256").update(k).digest(enc);
  const { data: api } = await unkey.apis.createApi({ name: "moved-in" });
  const { data: own } = await unkey.keys.createKey({ apiId: api.apiId });
  const hexKey = "helpdesk_live_4f1c2a9e";
  const b64Key = "postal-7Hq2Lw9Zk";
  const plainKey = "crm_abcdef0123456789";
  const hexRes = await unkey.keys.migrateKeys({
    migrationId: "sha256_hex", apiId: api.apiId,
    keys: [{ hash: sha(hexKey, "hex"), name: "legacy", externalId: "cust_mig", permissions: ["tickets.read"] }],
  });
  assert.equal(hexRes.data.migrated.length, 1);
  assert.equal(hexRes.data.migrated[0].hash, sha(hexKey, "hex"));
  const b64Res = await unkey.keys.migrateKeys({
    migrationId: "sha256_base64", apiId: api.apiId, keys: [{ hash: sha(b64Key, "base64"), credits: { remaining: 1 } }],
  });
  assert.equal(b64Res.data.migrated.length, 1);
  const plainRes = await unkey.keys.migrateKeys({
    migrationId: "plaintext", apiId: api.apiId, keys: [{ hash: plainKey }, { hash: plainKey }],
  });
  assert.equal(plainRes.data.migrated.length, 1);
  assert.equal(plainRes.data.migrated[0].hash, sha(plainKey, "hex")); // never the key itself
  assert.deepEqual(plainRes.data.failed, [sha(plainKey, "hex")]);

  const v = await verify(hexKey, { permissions: "tickets.read" });
  assert.equal(v.code, "VALID");
  assert.equal(v.keyId, hexRes.data.migrated[0].keyId);
  assert.equal(v.identity.externalId, "cust_mig");
  assert.equal((await verify(b64Key)).code, "VALID");
  assert.equal((await verify(b64Key)).code, "USAGE_EXCEEDED");
  assert.equal((await verify(plainKey)).code, "VALID");
  assert.equal((await verify(own.key)).code, "VALID");
  assert.equal((await verify("crm_not_a_moved_key")).code, "NOT_FOUND");

  await assert.rejects(unkey.keys.migrateKeys({
    migrationId: "md5", apiId: api.apiId, keys: [{ hash: "x" }],
  }), errors.BadRequestErrorResponse);
  await assert.rejects(unkey.keys.migrateKeys({
    migrationId: "sha256_hex", apiId: api.apiId, keys: [{ hash: sha("ok-key", "hex") }, { hash: "zz" }],
  }), errors.BadRequestErrorResponse);
  assert.equal((await verify("ok-key")).code, "NOT_FOUND"); // the batch was refused whole
});

// Rate-limit overrides over HTTP (ratelimit.setOverride / getOverride / listOverrides /
// deleteOverride, applied by ratelimit.limit and multiLimit), and keys' own IP allowlists.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Server } from "../lib/keyhold.mjs";

let s;

before(async () => {
  s = await new Server().start();
});
after(async () => {
  const { code } = await s.stop();
  assert.equal(code, 0);
});

const limitOf = (identifier, extra = {}) =>
  s.ok("ratelimit.limit", { namespace: "sms.sign_up", identifier, limit: 10, duration: 60000, ...extra });

test("an override replaces the limit asked for, exact before wildcard", async () => {
  const wide = await s.ok("ratelimit.setOverride",
    { namespace: "sms.sign_up", identifier: "premium_*", limit: 100, duration: 60000 });
  assert.match(wide.overrideId, /^rlo_/);
  const exact = await s.ok("ratelimit.setOverride",
    { namespace: "sms.sign_up", identifier: "premium_7", limit: 2, duration: 60000 });
  let r = await limitOf("premium_7");
  assert.deepEqual([r.success, r.limit, r.remaining, r.overrideId], [true, 2, 1, exact.overrideId]);
  await limitOf("premium_7");
  r = await limitOf("premium_7");
  assert.equal(r.success, false);
  r = await limitOf("premium_8");
  assert.deepEqual([r.success, r.limit, r.overrideId], [true, 100, wide.overrideId]);
  r = await limitOf("basic");
  assert.equal(r.limit, 10);
  assert.equal(r.overrideId, undefined);
  const multi = await s.ok("ratelimit.multiLimit", [
    { namespace: "sms.sign_up", identifier: "premium_9", limit: 10, duration: 60000 },
    { namespace: "email", identifier: "premium_9", limit: 10, duration: 60000 },
  ]);
  assert.equal(multi.limits[0].overrideId, wide.overrideId);
  assert.equal(multi.limits[1].overrideId, undefined, "overrides are per namespace");
});

test("get, list with a cursor, and delete; a changed override keeps its id", async () => {
  const ns = "api.requests";
  const ids = [];
  for (const identifier of ["a", "b", "c*"]) {
    ids.push((await s.ok("ratelimit.setOverride", { namespace: ns, identifier, limit: 1, duration: 1000 })).overrideId);
  }
  const again = await s.ok("ratelimit.setOverride", { namespace: ns, identifier: "a", limit: 5, duration: 2000 });
  assert.equal(again.overrideId, ids[0]);
  const got = await s.ok("ratelimit.getOverride", { namespace: ns, identifier: "a" });
  assert.deepEqual(got, { overrideId: ids[0], identifier: "a", limit: 5, duration: 2000 });
  let r = await s.call("ratelimit.getOverride", { namespace: ns, identifier: "c1" });
  assert.equal(r.status, 404, "get names an override, it does not match one");
  assert.match(r.body.error.type, /ratelimit_override_not_found$/);

  r = await s.call("ratelimit.listOverrides", { namespace: ns, limit: 2 });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.data.map((o) => o.overrideId), ids.slice(0, 2));
  assert.equal(r.body.pagination.hasMore, true);
  r = await s.call("ratelimit.listOverrides", { namespace: ns, limit: 2, cursor: r.body.pagination.cursor });
  assert.deepEqual(r.body.data.map((o) => o.identifier), ["c*"]);
  assert.equal(r.body.pagination.hasMore, false);
  r = await s.call("ratelimit.listOverrides", { namespace: ns });
  assert.equal(r.body.data.length, 3, "10 a page by default");

  assert.deepEqual(await s.ok("ratelimit.deleteOverride", { namespace: ns, identifier: "a" }), {});
  r = await s.call("ratelimit.deleteOverride", { namespace: ns, identifier: "a" });
  assert.equal(r.status, 404);
  const events = await s.ok("audit.listEvents", { action: "ratelimit.*" });
  assert.ok(events.some((e) => e.action === "ratelimit.delete_override" && e.target === ids[0]));
});

test("bad input is a 400 naming the field, and permissions are per operation", async () => {
  for (const [body, location] of [
    [{ identifier: "x", limit: 1, duration: 1000 }, "body.namespace"],
    [{ namespace: "n", identifier: "", limit: 1, duration: 1000 }, "body.identifier"],
    [{ namespace: "n", identifier: "x", limit: -1, duration: 1000 }, "body.limit"],
    [{ namespace: "n", identifier: "x", limit: 1, duration: 999 }, "body.duration"],
    [{ namespace: "n", identifier: "x", limit: 1, duration: 1000, extra: 1 }, "body.extra"],
  ]) {
    const r = await s.call("ratelimit.setOverride", body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.ok(r.body.error.errors.some((e) => e.location === location), JSON.stringify(r.body.error));
  }
  const { key } = await s.ok("rootKeys.createRootKey",
    { name: "reader", permissions: ["ratelimit.sms.sign_up.read_override"] });
  let r = await s.call("ratelimit.listOverrides", { namespace: "sms.sign_up" }, key);
  assert.equal(r.status, 200);
  r = await s.call("ratelimit.setOverride",
    { namespace: "sms.sign_up", identifier: "x", limit: 1, duration: 1000 }, key);
  assert.equal(r.status, 403);
  assert.match(r.body.error.detail, /ratelimit\.sms\.sign_up\.set_override/);
  r = await s.call("ratelimit.deleteOverride", { namespace: "sms.sign_up", identifier: "premium_*" }, key);
  assert.equal(r.status, 403);
});

test("a key's own IP allowlist: set, shown, enforced beside the API's, and not spoofable", async () => {
  const { apiId } = await s.ok("apis.createApi", { name: "ip" });
  const { key, keyId } = await s.ok("keys.createKey", { apiId, ipAllowlist: ["127.0.0.0/30", "::1"] });
  assert.deepEqual((await s.ok("keys.getKey", { keyId })).ipAllowlist, ["127.0.0.0/30", "::1"]);
  assert.equal((await s.ok("keys.verifyKey", { key })).code, "VALID");
  await s.ok("keys.updateKey", { keyId, ipAllowlist: ["192.0.2.0/24"] });
  assert.equal((await s.ok("keys.verifyKey", { key })).code, "FORBIDDEN");
  // The server trusts no proxy: a forged X-Forwarded-For from the peer changes nothing.
  const forged = await s.call("keys.verifyKey", { key }, s.rootKey,
    { headers: { "x-forwarded-for": "192.0.2.10" } });
  assert.equal(forged.body.data.code, "FORBIDDEN");
  await s.ok("keys.updateKey", { keyId, ipAllowlist: null });
  assert.equal((await s.ok("keys.getKey", { keyId })).ipAllowlist, undefined);
  assert.equal((await s.ok("keys.verifyKey", { key })).code, "VALID");

  for (const bad of ["10.0.0.0/33", "fe80::/129", "10.0.0/8", "localhost"]) {
    const r = await s.call("keys.createKey", { apiId, ipAllowlist: ["127.0.0.1", bad] });
    assert.equal(r.status, 400, bad);
    assert.match(r.body.error.detail, /ipAllowlist\[1\] is not an IPv4 or IPv6 address or CIDR/);
  }
  const r = await s.call("keys.updateKey", { keyId, ipAllowlist: [""] });
  assert.equal(r.status, 400);
});

test("through a trusted proxy, the forwarded address is the one checked", async () => {
  const behind = await new Server({ args: ["--trusted-proxies", "127.0.0.1/32"] }).start();
  try {
    const { apiId } = await behind.ok("apis.createApi", { name: "ip" });
    const { key } = await behind.ok("keys.createKey", { apiId, ipAllowlist: ["2001:db8::/32"] });
    const from = (ip) => behind.call("keys.verifyKey", { key }, behind.rootKey,
      { headers: { "x-forwarded-for": ip } });
    assert.equal((await from("2001:db8:ffff::1")).body.data.code, "VALID");
    assert.equal((await from("2001:db9::1")).body.data.code, "FORBIDDEN");
    assert.equal((await from("2001:db8::1, 2001:db9::1")).body.data.code, "FORBIDDEN",
      "what the client put before the proxy's hop is not believed");
  } finally {
    await behind.stop();
  }
});

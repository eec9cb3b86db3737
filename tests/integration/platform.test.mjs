// The platform every surface shares: routing and error formats, the request context (request id,
// client address through trusted proxies, actor) and input the server refuses before any handler.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { Server, rawExchange, eventually } from "../lib/keyhold.mjs";

let s;
let apiId;

before(async () => {
  s = await new Server().start();
  apiId = (await s.ok("apis.createApi", { name: "platform" })).apiId;
});
after(async () => {
  const { code } = await s.stop();
  assert.equal(code, 0);
});


function bodyOf(response) {
  return JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4));
}

test("each surface answers errors in its own format", async () => {
  // /v2/: Unkey's envelope.
  let r = await fetch(`${s.url}/v2/keys.nothing`, { method: "POST", body: "{}" });
  let b = await r.json();
  assert.equal(r.status, 404);
  assert.match(b.meta.requestId, /^req_/);
  assert.match(b.error.type, /route_not_found$/);
  assert.equal(r.headers.get("x-request-id"), b.meta.requestId);
  // /v1/: Vault's {"errors":[…]}.
  r = await fetch(`${s.url}/v1/nomount/data/nothing`, { headers: { "x-vault-token": s.rootKey } });
  b = await r.json();
  assert.equal(r.status, 404);
  assert.deepEqual(Object.keys(b), ["errors"]);
  assert.match(b.errors[0], /no handler for route/);
  // Anywhere else: plain JSON.
  r = await fetch(`${s.url}/nowhere`);
  b = await r.json();
  assert.equal(r.status, 404);
  assert.equal(b.error.status, 404);
  assert.match(b.error.requestId, /^req_/);
  // Errors the server raises itself, before any handler: 413 and malformed HTTP.
  const big = `Content-Length: ${2 << 20}\r\n\r\n`;
  let raw = await rawExchange(s.port, `POST /v1/secret/data/x HTTP/1.1\r\nHost: x\r\n${big}`);
  assert.match(raw, /^HTTP\/1\.1 413/);
  assert.ok(Array.isArray(bodyOf(raw).errors), raw);
  raw = await rawExchange(s.port, `POST /v2/keys.createKey HTTP/1.1\r\nHost: x\r\n${big}`);
  assert.match(raw, /^HTTP\/1\.1 413/);
  assert.match(bodyOf(raw).error.type, /request_body_too_large$/);
  raw = await rawExchange(s.port, "POST /v1/sys/health HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n");
  assert.match(raw, /^HTTP\/1\.1 400/);
  assert.ok(Array.isArray(bodyOf(raw).errors), raw);
});

test("health endpoints", async () => {
  let r = await fetch(`${s.url}/health`);
  assert.equal(r.status, 200);
  assert.equal((await r.json()).status, "ok");
  r = await fetch(`${s.url}/v1/sys/health`);
  const h = await r.json();
  assert.equal(r.status, 200);
  assert.equal(h.initialized, true);
  assert.equal(h.sealed, false);
  r = await fetch(`${s.url}/v1/sys/seal-status`);
  assert.equal((await r.json()).sealed, false);
});

test("a JSON body nested 100,000 deep is refused with 400 before it is parsed", async () => {
  for (const op of ["keys.createKey", "identities.createIdentity", "keys.verifyKey"]) {
    const deep = `{"apiId":"${apiId}","meta":{"x":${"[".repeat(100000)}${"]".repeat(100000)}}}`;
    const r = await s.call(op, undefined, s.rootKey, { raw: deep });
    assert.equal(r.status, 400, op);
    assert.match(r.body.error.errors[0].message, /nested more than 64/);
  }
  // Also without a valid root key: refused the same, the server stays up.
  const r = await s.call("keys.createKey", undefined, "nope", { raw: "[".repeat(100000) });
  assert.equal(r.status, 401);
  assert.equal((await fetch(`${s.url}/health`)).status, 200);
  // 64 levels are fine.
  const ok = await s.call("keys.createKey", undefined, s.rootKey, {
    raw: JSON.stringify({ apiId, meta: { x: JSON.parse("[".repeat(60) + "]".repeat(60)) } }),
  });
  assert.equal(ok.status, 200, ok.text);
});

test("the Bearer scheme is matched case-insensitively", async () => {
  for (const scheme of ["bearer", "BEARER", "Bearer", "bEaReR"]) {
    const r = await s.call("apis.getApi", { apiId }, null, {
      headers: { authorization: `${scheme} ${s.rootKey}` },
    });
    assert.equal(r.status, 200, scheme);
  }
  const r = await s.call("apis.getApi", { apiId }, null, { headers: { authorization: `Basic ${s.rootKey}` } });
  assert.equal(r.status, 401);
});

test("a key limited to 3 a minute is RATE_LIMITED on the fourth verification", async () => {
  const limited = [{ name: "requests", limit: 3, duration: 60000, autoApply: true }];
  const { key, keyId } = await s.ok("keys.createKey", { apiId, ratelimits: limited, credits: { remaining: 10 } });
  for (let left = 2; left >= 0; left--) {
    const v = await s.ok("keys.verifyKey", { key });
    assert.equal(v.code, "VALID");
    assert.equal(v.ratelimits.length, 1);
    const [rl] = v.ratelimits;
    assert.match(rl.id, /^rl_/);
    assert.deepEqual(
      { name: rl.name, limit: rl.limit, duration: rl.duration, remaining: rl.remaining },
      { name: "requests", limit: 3, duration: 60000, remaining: left },
    );
    assert.equal(rl.exceeded, false);
    assert.equal(rl.autoApply, true);
    assert.ok(rl.reset > 0 && rl.reset <= 60000);
  }
  const refused = await s.ok("keys.verifyKey", { key });
  assert.equal(refused.code, "RATE_LIMITED");
  assert.equal(refused.valid, false);
  assert.equal(refused.ratelimits[0].exceeded, true);
  assert.equal(refused.credits, 7, "a rate-limited request spends no credit");
  // A named limit with a cost, given whole in the request.
  const tokens = [{ name: "tokens", limit: 10, duration: 60000, cost: 7 }];
  const { key: other } = await s.ok("keys.createKey", { apiId });
  assert.equal((await s.ok("keys.verifyKey", { key: other, ratelimits: tokens })).code, "VALID");
  assert.equal((await s.ok("keys.verifyKey", { key: other, ratelimits: tokens })).code, "RATE_LIMITED");
  // An identity's limit, shared by its keys.
  await s.ok("identities.createIdentity", { externalId: "rl-1", ratelimits: [{ ...limited[0], limit: 1 }] });
  const a = await s.ok("keys.createKey", { apiId, externalId: "rl-1" });
  const b = await s.ok("keys.createKey", { apiId, externalId: "rl-1" });
  assert.equal((await s.ok("keys.verifyKey", { key: a.key })).code, "VALID");
  assert.equal((await s.ok("keys.verifyKey", { key: b.key })).code, "RATE_LIMITED");
  // Bad input is named.
  for (const [bad, where] of [
    [[{ name: "unknown" }], "ratelimit 'unknown'"],
    [[{ name: "requests" }, { name: "requests" }], "named twice"],
    [[{ name: "x", limit: 5, duration: 10 }], "body.ratelimits[0].duration"],
    [[{ name: "x", limit: -1, duration: 1000 }], "body.ratelimits[0].limit"],
    [[{ name: "x", cost: -1 }], "body.ratelimits[0].cost"],
  ]) {
    const r = await s.call("keys.verifyKey", { key, ratelimits: bad });
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.ok(r.text.includes(where), `${where} in ${r.text}`);
  }
  // Clearing the limits lifts them.
  await s.ok("keys.updateKey", { keyId, ratelimits: [] });
  assert.equal((await s.ok("keys.verifyKey", { key })).code, "VALID");
});

test("ratelimit.limit and multiLimit count identifiers per namespace, all or nothing", async () => {
  const check = { namespace: "sms.sign_up", identifier: "+15550100", limit: 2, duration: 60000 };
  const t0 = Date.now();
  for (let left = 1; left >= 0; left--) {
    const d = await s.ok("ratelimit.limit", check);
    assert.deepEqual({ success: d.success, limit: d.limit, remaining: d.remaining }, { success: true, limit: 2, remaining: left });
    assert.ok(d.reset >= t0 && d.reset <= Date.now() + 60000);
  }
  assert.equal((await s.ok("ratelimit.limit", check)).success, false);
  assert.equal((await s.ok("ratelimit.limit", { ...check, identifier: "+15550101" })).success, true);
  const multi = await s.ok("ratelimit.multiLimit", [
    { ...check, identifier: "+15550102" },
    { namespace: "email", identifier: "a@example.com", limit: 1, duration: 60000, cost: 2 },
  ]);
  assert.equal(multi.passed, false);
  assert.deepEqual(multi.limits.map((l) => [l.identifier, l.passed, l.remaining]), [
    ["+15550102", true, 2],
    ["a@example.com", false, 1],
  ]);
  const scoped = await s.ok("rootKeys.createRootKey", { permissions: ["ratelimit.sms.sign_up.limit"] });
  assert.equal((await s.call("ratelimit.limit", { ...check, identifier: "x" }, scoped.key)).status, 200);
  const other = await s.call("ratelimit.limit", { ...check, namespace: "email" }, scoped.key);
  assert.equal(other.status, 403);
  assert.match(other.text, /ratelimit\.email\.limit/);
  for (const [bad, where] of [
    [{ ...check, duration: 10 }, "body.duration"],
    [{ ...check, limit: 0 }, "body.limit"],
    [{ ...check, identifier: "" }, "body.identifier"],
    [{ ...check, cost: -1 }, "body.cost"],
    [{ ...check, identifier: "a\u0000b" }, "control characters"],
  ]) {
    const r = await s.call("ratelimit.limit", bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.ok(r.text.includes(where), `${where} in ${r.text}`);
  }
  assert.equal((await s.call("ratelimit.multiLimit", [])).status, 400);
  assert.equal((await s.call("ratelimit.multiLimit", { limits: "no" })).status, 400);
  assert.equal((await s.call("ratelimit.limit", [check])).status, 400, "only multiLimit takes an array");
});

test("the client address comes from X-Forwarded-For only through trusted proxies", async () => {
  const fenced = (await s.ok("apis.createApi", { name: "fenced", ipAllowlist: ["192.0.2.0/24"] })).apiId;
  const { key } = await s.ok("keys.createKey", { apiId: fenced });
  const forged = { headers: { "x-forwarded-for": "192.0.2.10" } };
  let r = await s.call("keys.verifyKey", { key }, s.rootKey, forged);
  assert.equal(r.body.data.code, "FORBIDDEN", "an untrusted peer cannot choose its address");

  const behind = await new Server({ args: ["--trusted-proxies", "127.0.0.1/32"] }).start();
  try {
    const api = (await behind.ok("apis.createApi", { name: "fenced", ipAllowlist: ["192.0.2.0/24"] })).apiId;
    const k = (await behind.ok("keys.createKey", { apiId: api })).key;
    r = await behind.call("keys.verifyKey", { key: k }, behind.rootKey, forged);
    assert.equal(r.body.data.code, "VALID");
    r = await behind.call("keys.verifyKey", { key: k }, behind.rootKey, {
      headers: { "x-forwarded-for": "192.0.2.10, 198.51.100.1" },
    });
    assert.equal(r.body.data.code, "FORBIDDEN", "the nearest untrusted hop is the client");
    // The access log names the request, the client address and the actor (written in the
    // background, within a second).
    const id = r.body.meta.requestId;
    await eventually(() => {
      const line = behind.stderr.split("\n").find((l) => l.includes(id));
      assert.ok(line, "the request id is logged");
      assert.match(line, /POST \/v2\/keys\.verifyKey 200 \d+us 198\.51\.100\.1 key_/);
    });
  } finally {
    await behind.stop();
  }
  const bad = new Server({ args: ["--trusted-proxies", "10.0.0.0/8,proxy.local"] });
  await assert.rejects(bad.start(), /proxy\.local/);
});

test("least privilege leaks nothing: other APIs' keys and other customers' identities", async () => {
  const other = (await s.ok("apis.createApi", { name: "other-tenant" })).apiId;
  await s.ok("identities.createIdentity", { externalId: "tenant-b-customer", meta: { email: "b@example.com" } });
  const theirs = await s.ok("keys.createKey", { apiId: other, externalId: "tenant-b-customer" });
  const scoped = (await s.ok("rootKeys.createRootKey", { permissions: [`api.${apiId}.*`] })).key;

  // Another API's key, by id or by text, is answered as a key that does not exist.
  for (const [op, body, missing] of [
    ["keys.getKey", { keyId: theirs.keyId }, { keyId: "key_0000000000000000000000" }],
    ["keys.whoami", { key: theirs.key }, { key: theirs.key.slice(0, -8) + "AAAAAAAA" }],
    ["keys.updateKey", { keyId: theirs.keyId, enabled: false }, { keyId: "key_0000000000000000000000", enabled: false }],
    ["keys.deleteKey", { keyId: theirs.keyId }, { keyId: "key_0000000000000000000000" }],
  ]) {
    const hidden = await s.call(op, body, scoped);
    const absent = await s.call(op, missing, scoped);
    assert.equal(hidden.status, 404, `${op}: ${hidden.text}`);
    assert.equal(hidden.status, absent.status, op);
    assert.equal(hidden.body.error.type, absent.body.error.type, op);
    assert.ok(!hidden.text.includes(other), `${op} does not name the other API`);
  }
  assert.equal((await s.call("keys.verifyKey", { key: theirs.key })).body.data.valid, true, "untouched");

  // Linking a key to another customer's identity needs identity read permission.
  const link = await s.call("keys.createKey", { apiId, externalId: "tenant-b-customer" }, scoped);
  assert.equal(link.status, 403);
  assert.match(link.body.error.detail, /identity\.\*\.read_identity/);
  // An identity's meta is shown only to root keys that may read identities.
  const own = await s.ok("keys.createKey", { apiId, externalId: "tenant-b-customer" });
  const seen = await s.ok("keys.getKey", { keyId: own.keyId }, scoped);
  assert.equal(seen.identity.externalId, "tenant-b-customer");
  assert.equal(seen.identity.meta, undefined);
  const verified = await s.ok("keys.verifyKey", { key: own.key }, scoped);
  assert.equal(verified.identity.meta, undefined);
  const listed = await s.call("apis.listKeys", { apiId }, scoped);
  assert.ok(!listed.text.includes("b@example.com"));
  assert.deepEqual((await s.ok("keys.getKey", { keyId: own.keyId })).identity.meta, { email: "b@example.com" });
});

test("the master key leaves the environment once read, and the server dumps no core", async () => {
  const hex = "c0ffee".padEnd(64, "7");
  const srv = await new Server({ env: { KEYHOLD_MASTER_KEY: hex } }).start();
  try {
    const environ = fs.readFileSync(`/proc/${srv.proc.pid}/environ`, "latin1");
    assert.ok(!environ.includes(hex), "KEYHOLD_MASTER_KEY is wiped from the process environment");
    const limits = fs.readFileSync(`/proc/${srv.proc.pid}/limits`, "utf8");
    assert.match(limits, /Max core file size\s+0\s+0/);
    const status = fs.readFileSync(`/proc/${srv.proc.pid}/status`, "utf8");
    assert.doesNotMatch(status, /^VmLck:\s+0 kB/m, "key material is in locked memory");
    assert.ok(!srv.stderr.includes(hex));
  } finally {
    await srv.stop();
  }
});

test("a 404 does not repeat the path it was asked for: a key or control bytes may be in it", async () => {
  const { key } = await s.ok("keys.createKey", { apiId });
  const auth = `X-Vault-Token: ${s.rootKey}\r\nAuthorization: Bearer ${s.rootKey}\r\n`;
  for (const [method, path, detail] of [
    ["GET", `/nowhere/${key}`, /^no route for GET at this path$/],
    ["POST", `/v2/${key}`, /^no operation at this path$/],
    ["POST", `/v2/secrets.${key}`, /^no operation at this path$/],
    ["GET", `/v1/secret/${key}/x`, /^no handler for route: route entry not found$/],
    ["GET", `/v1/sys/${key}`, /^no handler for route: route entry not found$/],
    ["GET", `/v1/nomount/data/${key}`, /^no handler for route: route entry not found$/],
    ["GET", `/a%0d%0aX-Injected:%20yes/${key}%00`, /^no route for GET at this path$/],
  ]) {
    const raw = await rawExchange(s.port,
      `${method} ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 2\r\nConnection: close\r\n\r\n{}`);
    assert.match(raw, /^HTTP\/1\.1 404/, `${path}: ${raw}`);
    const body = bodyOf(raw);
    const message = body.errors?.[0] ?? body.error.detail ?? body.error.message;
    assert.match(message, detail, `${path}: ${raw}`);
    assert.ok(!raw.includes(key.slice(3)), `${path}: the key is repeated: ${raw}`);
    assert.ok(!/X-Injected|%0d|\r\nX-/i.test(raw.slice(raw.indexOf("\r\n\r\n"))), raw);
  }
});

test("what a client sends cannot forge log lines or put a key in the log", async () => {
  const { key } = await s.ok("keys.createKey", { apiId });
  await rawExchange(s.port, "GET\t/health\tHTTP/1.1\r\nX-Forged: [2026-01-01] [info] forged\r\n\r\n");
  await fetch(`${s.url}/v2/${key}`, { method: "POST", body: "{}" });
  await fetch(`${s.url}/v1/secret/data/${key}/x`);
  await rawExchange(s.port, `${key.replace(/_/g, "")} /health HTTP/1.1\r\nHost: x\r\n\r\n`);
  // A key that the 200-byte cut of a logged path goes through is still recognized whole.
  for (const pad of [150, 160, 175, 195]) await fetch(`${s.url}/${"a".repeat(pad)}/${key}`);
  // Nor behind an escape, glued to the method, or split by a control byte.
  await fetch(`${s.url}/${"a".repeat(140)}%2F${key}`);
  await rawExchange(s.port, `${"A".repeat(150)}${key} /x HTTP/1.1\r\nHost: x\r\n\r\n`);
  await rawExchange(s.port, `GET /a/${key.slice(0, 30)}\x01${key.slice(30)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  // The access log is written in the background, in order: wait for a last request's line.
  await fetch(`${s.url}/log-marker`);
  await eventually(() => assert.match(s.stderr, /GET \/log-marker 404/));
  assert.match(s.stderr, /POST \/v2\/\[key\] 404/);
  assert.ok(!s.stderr.includes(key), "no key in the log");
  assert.ok(!s.stderr.includes(key.slice(0, 20)), "no key cut short in the log");
  for (let at = 0; at + 16 <= key.length; at += 4) {
    assert.ok(!s.stderr.includes(key.slice(at, at + 16)), `no 16 characters of the key from ${at} in the log`);
  }
  assert.ok(!s.stderr.split("\n").some((l) => l.startsWith("X-Forged")), "no line of the client's own");
});

test("a body with a NUL byte, or two Authorization headers, is refused", async () => {
  let r = await s.call("apis.createApi", undefined, s.rootKey, { raw: '{"name":"first"}\u0000{"name":"second"}' });
  assert.equal(r.status, 400);
  assert.match(r.body.error.errors[0].message, /NUL/);
  const raw = await rawExchange(s.port, `POST /v2/apis.getApi HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n` +
    `Authorization: Bearer ${s.rootKey}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
  assert.match(raw, /^HTTP\/1\.1 401/);
  r = await fetch(`${s.url}/health`, { method: "HEAD" });
  assert.equal(r.status, 200);
  assert.ok(Number(r.headers.get("content-length")) > 0, "HEAD gets the GET answer's length");
});

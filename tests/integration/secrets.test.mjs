// The secrets API over HTTP as a hostile or careless client meets it: malformed paths and bodies,
// the wrong content type, other callers' paths, a crash after an acknowledged write, a wrong
// master key; and what the audit log records of it all.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { Server, eventually, rawExchange } from "../lib/keyhold.mjs";

let s;

before(async () => {
  s = await new Server().start();
});
after(async () => {
  await s.stop();
});

// A /v1/ request with the root key (or `token`); returns { status, body }.
async function v1(method, path, body, { token = s.rootKey, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h["x-vault-token"] = token;
  if (body !== undefined && !h["content-type"]) h["content-type"] = "application/json";
  const res = await fetch(`${s.url}/v1/${path}`, {
    method,
    headers: h,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
}

const sql = (dataDir, statement) =>
  execFileSync("sqlite3", ["-cmd", ".timeout 5000", path.join(dataDir, "keyhold.db"), statement], {
    encoding: "utf8",
  });

test("a read whose audit entry cannot be written is 503, and raises audit.sink_failing once", async () => {
  assert.equal((await v1("POST", "secret/data/jam/x", { data: { v: "jammed-read-value-3" } })).status, 200);
  sql(
    s.dataDir,
    "CREATE TRIGGER read_audit_jammed BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'jammed'); END;",
  );
  try {
    for (let i = 0; i < 3; i++) {
      const r = await v1("GET", "secret/data/jam/x");
      assert.equal(r.status, 503, r.text);
      assert.ok(!r.text.includes("jammed"), r.text);
    }
    const [alert] = await eventually(async () => {
      const list = await s.ok("alerts.list", { kind: "audit.sink_failing" });
      assert.equal(list.length, 1, JSON.stringify(list));
      return list;
    });
    assert.equal(alert.severity, "critical");
    assert.equal(alert.count, 1);
    assert.equal(alert.evidence.action, "secret.read");
    assert.ok(!JSON.stringify(alert).includes("jammed-read-value-3"));
  } finally {
    sql(s.dataDir, "DROP TRIGGER read_audit_jammed;");
  }
  const again = await v1("GET", "secret/data/jam/x");
  assert.equal(again.status, 200, again.text);
  assert.equal(again.body.data.data.v, "jammed-read-value-3");
});

test("paths that escape, repeat or smuggle are refused with 400", async () => {
  // Sent raw: a client library would normalise some of these away before they left.
  const body = JSON.stringify({ data: { v: 1 } });
  for (const bad of ["a/../b", "a/%2e%2e/b", "a//b", "a/./b", "a%00b", "a%2", "%2e%2e", "a/b%20c", "../../etc/passwd"]) {
    const raw = await rawExchange(
      s.port,
      `POST /v1/secret/data/${bad} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Vault-Token: ${s.rootKey}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    assert.match(raw, /^HTTP\/1\.1 400/, `${bad} -> ${raw.slice(0, 300)}`);
    assert.match(raw, /"errors":\["/);
  }
  const long = await v1("POST", `secret/data/${"a".repeat(600)}`, { data: { v: 1 } });
  assert.equal(long.status, 400);
});

test("bad bodies: no data, not an object, deep, duplicate keys, oversized, bad cas", async () => {
  const cases = [
    [{ nodata: 1 }, 400],
    [{ data: [1, 2] }, 400],
    [{ data: "x" }, 400],
    ["{not json", 400],
    ["[]", 400],
    ['{"data":{"a":1},"data":{"a":2}}', 400],
    [{ data: { v: 1 }, options: { cas: -1 } }, 400],
    [{ data: { v: 1 }, options: { cas: "1" } }, 400],
    [{ data: { v: 1 }, options: "x" }, 400],
    ["[".repeat(100000), 400],
    [{ data: { v: "x".repeat(600 * 1024) } }, 413],
  ];
  for (const [body, want] of cases) {
    const r = await v1("POST", "secret/data/bad/body", body);
    assert.equal(r.status, want, `${String(JSON.stringify(body)).slice(0, 60)} -> ${r.text.slice(0, 200)}`);
    assert.ok(Array.isArray(r.body.errors));
  }
  // Nothing was written by any of them.
  assert.equal((await v1("GET", "secret/data/bad/body")).status, 404);
});

test("PATCH needs the merge-patch content type; versions must be numbers", async () => {
  await v1("POST", "secret/data/p/x", { data: { a: 1 } });
  const wrong = await v1("PATCH", "secret/data/p/x", { data: { a: 2 } });
  assert.equal(wrong.status, 415);
  const right = await v1("PATCH", "secret/data/p/x", { data: { a: 2 } }, {
    headers: { "content-type": "application/merge-patch+json" },
  });
  assert.equal(right.status, 200, right.text);
  assert.equal((await v1("POST", "secret/destroy/p/x", { versions: ["x"] })).status, 400);
  assert.equal((await v1("POST", "secret/destroy/p/x", { versions: [] })).status, 400);
  assert.equal((await v1("POST", "secret/destroy/p/x", {})).status, 400);
  assert.equal((await v1("GET", "secret/data/p/x?version=abc")).status, 400);
  assert.equal((await v1("GET", "secret/data/p/x?version=-1")).status, 400);
  assert.equal((await v1("GET", "secret/data/p/x?version=1000000000000000000")).status, 400);
  // As Vault: an empty version is the current one; leading zeros are the number; a version
  // too big to exist is simply not there.
  const current = (await v1("GET", "secret/data/p/x")).body.data.metadata.version;
  assert.equal((await v1("GET", "secret/data/p/x?version=")).body.data.metadata.version, current);
  assert.equal((await v1("GET", "secret/data/p/x?version=0000000000000000000001")).body.data.metadata.version, 1);
  assert.equal((await v1("GET", "secret/data/p/x?version=999999999999999999")).status, 404);
  assert.equal((await v1("DELETE", "secret/config")).status, 405);
});

test("no token, a wrong token, or a wrong mount", async () => {
  for (const token of [null, "", "khr_x", "hvs.abcdef"]) {
    const r = await v1("GET", "secret/data/p/x", undefined, { token });
    assert.equal(r.status, 403);
    assert.deepEqual(r.body, { errors: ["permission denied"] });
  }
  const viaBearer = await fetch(`${s.url}/v1/secret/data/p/x`, { headers: { authorization: `Bearer ${s.rootKey}` } });
  assert.equal(viaBearer.status, 200);
  // Nothing that carries a value may be cached on the way.
  assert.equal(viaBearer.headers.get("cache-control"), "no-store");
  // As Vault: an empty X-Vault-Token leaves the token to Authorization.
  const emptyHeader = await fetch(`${s.url}/v1/secret/data/p/x`, {
    headers: { "x-vault-token": "", authorization: `Bearer ${s.rootKey}` },
  });
  assert.equal(emptyHeader.status, 200);
  const nomount = await v1("GET", "nomount/data/x");
  assert.equal(nomount.status, 404);
  assert.match(nomount.body.errors[0], /no handler for route/);
  // LIST is a method the listener passes through.
  const raw = await rawExchange(s.port, `LIST /v1/secret/metadata/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Vault-Token: ${s.rootKey}\r\n\r\n`);
  assert.match(raw, /^HTTP\/1\.1 200/);
  assert.match(raw, /"keys":\[/);
});

test("recursive LIST pages through every secret under a folder that the caller may list", async () => {
  const paths = [];
  for (let i = 0; i < 12; i++) {
    const p = `tree/${i % 2 ? "a/b/" : ""}n${String(i).padStart(2, "0")}`;
    assert.equal((await v1("POST", `secret/data/${p}`, { data: { v: i } })).status, 200);
    paths.push(p.slice("tree/".length));
  }
  paths.sort();
  // Plain LIST is Vault's: one level, folders ending in "/".
  const plain = await v1("LIST", "secret/metadata/tree/");
  assert.deepEqual(plain.body.data.keys, ["a/", ...paths.filter((p) => !p.includes("/"))]);
  const got = [];
  let after = null;
  for (let pages = 0; pages < 20; pages++) {
    const q = `recursive=true&limit=5${after === null ? "" : `&after=${encodeURIComponent(after)}`}`;
    const r = await v1("GET", `secret/metadata/tree/?list=true&${q}`);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.data.keys.length <= 5);
    got.push(...r.body.data.keys);
    if (r.body.data.next_after === undefined) break;
    after = r.body.data.next_after;
  }
  assert.deepEqual(got, paths);
  // The LIST verb too; a caller sees only what it may list; an empty folder is Vault's 404.
  const raw = await rawExchange(
    s.port,
    `LIST /v1/secret/metadata/tree/a/?recursive=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Vault-Token: ${s.rootKey}\r\n\r\n`,
  );
  assert.match(raw, /^HTTP\/1\.1 200/);
  assert.match(raw, /"keys":\["b\/n01","b\/n03"/);
  const narrow = await s.ok("rootKeys.createRootKey", { permissions: ["secret.list:secret/tree/a/*"] });
  const seen = await v1("GET", "secret/metadata/tree/?list=true&recursive=true", undefined, { token: narrow.key });
  assert.deepEqual(seen.body.data.keys, paths.filter((p) => p.startsWith("a/")));
  const refused = await v1("GET", "secret/metadata/other/?list=true&recursive=true", undefined, { token: narrow.key });
  assert.equal(refused.status, 403);
  assert.equal((await v1("GET", "secret/metadata/empty/?list=true&recursive=true")).status, 404);
  for (const bad of ["0", "-1", "x", "10001", ""]) {
    const r = await v1("GET", `secret/metadata/tree/?list=true&recursive=true&limit=${bad}`);
    assert.equal(r.status, 400, `limit=${bad}`);
  }
});

test("a narrow root key sees and touches only its globs, and each refusal is audited", async () => {
  await v1("POST", "secret/data/helpdesk/smtp", { data: { password: "p1" } });
  await v1("POST", "secret/data/crm/stripe", { data: { key: "k1" } });
  const hd = await s.ok("rootKeys.createRootKey", {
    name: "helpdesk",
    permissions: ["secret.read:secret/helpdesk/*", "secret.list:secret/helpdesk/*"],
  });
  assert.equal((await v1("GET", "secret/data/helpdesk/smtp", undefined, { token: hd.key })).status, 200);
  for (const [method, path, body] of [
    ["GET", "secret/data/crm/stripe"],
    ["GET", "secret/data/crm/nonexistent"],
    ["GET", "secret/metadata/crm/stripe"],
    ["POST", "secret/data/helpdesk/smtp", { data: { password: "x" } }],
    ["POST", "secret/destroy/helpdesk/smtp", { versions: [1] }],
    ["DELETE", "secret/metadata/helpdesk/smtp"],
    ["LIST", "secret/metadata/crm/"],
    ["POST", "secret/config", { max_versions: 1 }],
    ["POST", "sys/mounts/stolen", { type: "kv", options: { version: "2" } }],
    ["POST", "sys/rotate"],
  ]) {
    const r = await v1(method, path, body, { token: hd.key });
    assert.equal(r.status, 403, `${method} ${path} -> ${r.status}`);
    assert.deepEqual(r.body, { errors: ["permission denied"] });
  }
  const denied = await s.call("audit.listEvents", { actor: hd.keyId, limit: 100 });
  const outcomes = denied.body.data.map((e) => `${e.action}:${e.outcome}`);
  assert.ok(outcomes.includes("secret.read:denied"), outcomes.join());
  assert.ok(outcomes.includes("secret.read:success"), outcomes.join());
  assert.ok(denied.body.data.length >= 11, outcomes.join());
  // Root keys can only hand out secret permissions they hold themselves.
  const escalate = await s.call("rootKeys.createRootKey", { permissions: ["secret.read:secret/*"] }, hd.key);
  assert.equal(escalate.status, 403);
});

test("reads and changes are audited without values or field names", async () => {
  await v1("POST", "secret/data/audited/x", { data: { field_marker_q: "value_marker_q" } });
  await v1("GET", "secret/data/audited/x");
  await v1("POST", "secret/delete/audited/x", { versions: [1] });
  const events = await s.call("audit.listEvents", { target: "secret/audited/x" });
  assert.deepEqual(events.body.data.map((e) => e.action), ["secret.delete", "secret.read", "secret.write"]);
  const text = JSON.stringify(events.body);
  assert.equal(text.includes("value_marker_q"), false);
  assert.equal(text.includes("field_marker_q"), false);
  const chain = await s.call("audit.verifyChain", {});
  assert.equal(chain.body.data.valid, true, chain.text);
});

test("mounts are enabled by an operator; the vault CLI's mount lookup answers", async () => {
  const enable = await v1("POST", "sys/mounts/team-a", { type: "kv", options: { version: "2" } });
  assert.equal(enable.status, 204, enable.text);
  assert.equal((await v1("POST", "sys/mounts/team-a", { type: "kv", options: { version: "2" } })).status, 400);
  assert.equal((await v1("POST", "sys/mounts/x1", { type: "transit" })).status, 400);
  assert.equal((await v1("POST", "sys/mounts/sys", { type: "kv-v2" })).status, 400);
  assert.equal((await v1("POST", "team-a/data/db", { data: { p: "x" } })).status, 200);
  const ui = await v1("GET", "sys/internal/ui/mounts/team-a/db");
  assert.equal(ui.status, 200);
  assert.deepEqual(ui.body.data.options, { version: "2" });
  assert.equal(ui.body.data.type, "kv");
});

test("rotating the keyring keeps every secret readable", async () => {
  for (let i = 0; i < 20; i++) await v1("POST", `secret/data/rot/s${i}`, { data: { i } });
  assert.equal((await v1("POST", "sys/rotate")).status, 204);
  for (let i = 0; i < 20; i++) {
    const r = await v1("GET", `secret/data/rot/s${i}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.data.data.i, i);
  }
});

test("kill -9 loses no acknowledged secret write; a wrong master key refuses to start", async () => {
  const t = await new Server().start();
  const token = t.rootKey;
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${t.url}/v1/secret/data/crash/s${i}`, {
      method: "POST",
      headers: { "x-vault-token": token, "content-type": "application/json" },
      body: JSON.stringify({ data: { i } }),
    });
    assert.equal(r.status, 200);
  }
  await t.stop("SIGKILL");
  const again = await new Server({ dataDir: t.dataDir }).start();
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${again.url}/v1/secret/data/crash/s${i}`, { headers: { "x-vault-token": token } });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).data.data.i, i);
  }
  await again.stop();
  const wrong = new Server({ dataDir: t.dataDir, env: { KEYHOLD_MASTER_KEY: "ab".repeat(32) } });
  await assert.rejects(wrong.start(), /master key does not open the secrets keyring/);
});

test("mount existence is told only to callers who may use the mount; odd inputs stay 4xx", async () => {
  const keysOnly = await s.ok("rootKeys.createRootKey", { permissions: ["api.*.read_key"] });
  for (const path of ["secret/data/x", "nomount/data/x", "sys/internal/ui/mounts/secret", "sys/internal/ui/mounts/nomount"]) {
    const r = await v1("GET", path, undefined, { token: keysOnly.key });
    assert.equal(r.status, 403, `${path}: ${r.text}`);
  }
  for (const body of [{ type: 5 }, { type: null }, { type: [] }, { type: "kv", options: { version: 2 } }, { type: "kv", options: 7 }]) {
    const r = await v1("POST", "sys/mounts/t1", body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
  }
  const wrapped = await v1("GET", "secret/data/p/x", undefined, { headers: { "x-vault-wrap-ttl": "60s" } });
  assert.equal(wrapped.status, 400);
  assert.equal((await v1("GET", "secret/metadata/?list=TRUE")).status, 200);
  const upper = await v1("PATCH", "secret/data/p/x", { data: { b: 1 } }, {
    headers: { "content-type": "Application/Merge-Patch+JSON; charset=utf-8" },
  });
  assert.equal(upper.status, 200, upper.text);
});

test("a query parameter that does not decode is a 400 naming it, never taken as absent", async () => {
  for (const v of [1, 2]) assert.equal((await v1("POST", "secret/data/q/x", { data: { v } })).status, 200);
  for (const [query, name] of [
    ["version=1%00", "version"],
    ["version=%zz", "version"],
    ["version=1%", "version"],
    ["keyhold_stage=current%00", "keyhold_stage"],
    ["after=x%00", "after"],
  ]) {
    const r = await v1("GET", `secret/data/q/x?${query}`);
    assert.equal(r.status, 400, `${query}: ${r.text}`);
    assert.equal(r.body.errors.length, 1);
    assert.ok(r.body.errors[0].includes(`"${name}"`), `${query}: ${r.text}`);
  }
  for (const [query, name] of [
    ["list=true&recursive=true&limit=5%00", "limit"],
    ["list=true&recursive=true&after=x%00", "after"],
    ["list=true%00", "list"],
    ["list=true&recursive=%zz", "recursive"],
  ]) {
    const r = await v1("GET", `secret/metadata/q/?${query}`);
    assert.equal(r.status, 400, `${query}: ${r.text}`);
    assert.ok(r.body.errors[0].includes(`"${name}"`), `${query}: ${r.text}`);
  }
  const badName = await v1("GET", "secret/data/q/x?ver%zzsion=1");
  assert.equal(badName.status, 400, badName.text);
  assert.match(badName.body.errors[0], /parameter name/);
  // Before any token, too.
  const health = await fetch(`${s.url}/v1/sys/health?activecode=2%0000`);
  assert.equal(health.status, 400);
  assert.deepEqual((await health.json()).errors.length, 1);
});

test("query names decode as Go's do; limit takes leading zeros; flags are Go's booleans", async () => {
  for (const v of [1, 2]) assert.equal((await v1("POST", "secret/data/g/x", { data: { v } })).status, 200);
  assert.equal((await v1("POST", "secret/data/g/y", { data: { v: 3 } })).status, 200);
  assert.equal((await v1("POST", "secret/data/g/sub/z", { data: { v: 4 } })).status, 200);
  for (const query of ["ver%73ion=1", "%76ersion=0001", "version=%31"]) {
    const r = await v1("GET", `secret/data/g/x?${query}`);
    assert.equal(r.status, 200, `${query}: ${r.text}`);
    assert.deepEqual(r.body.data.data, { v: 1 }, query);
  }
  const listed = await v1("GET", "secret/metadata/g/?l%69st=true");
  assert.deepEqual(listed.body.data.keys, ["sub/", "x", "y"]);
  const one = await v1("GET", "secret/metadata/g/?list=true&recursive=true&limit=0000000001");
  assert.equal(one.status, 200, one.text);
  assert.deepEqual(one.body.data, { keys: ["sub/z"], next_after: "sub/z" });
  for (const bad of ["+1", "-1", "1.0", "0000000000", "00000000010001", "1%20"]) {
    const r = await v1("GET", `secret/metadata/g/?list=true&recursive=true&limit=${bad}`);
    assert.equal(r.status, 400, `limit=${bad}: ${r.text}`);
    assert.match(r.body.errors[0], /limit must be a whole number from 1 to 10000/);
  }
  for (const on of ["1", "t", "T", "TRUE", "true", "True"]) {
    const r = await v1("GET", `secret/metadata/g/?list=true&recursive=${on}`);
    assert.deepEqual(r.body.data.keys, ["sub/z", "x", "y"], `recursive=${on}`);
  }
  for (const off of ["0", "f", "F", "FALSE", "false", "False", ""]) {
    const r = await v1("GET", `secret/metadata/g/?list=true&recursive=${off}`);
    assert.deepEqual(r.body.data.keys, ["sub/", "x", "y"], `recursive=${off}`);
  }
  for (const bad of ["yes", "2", "tRUE", "on", "true%20"]) {
    const r = await v1("GET", `secret/metadata/g/?list=true&recursive=${bad}`);
    assert.equal(r.status, 400, `recursive=${bad}: ${r.text}`);
    assert.match(r.body.errors[0], /recursive must be one of/);
    const l = await v1("GET", `secret/metadata/g/?list=${bad}`);
    assert.equal(l.status, 400, `list=${bad}: ${l.text}`);
  }
});

test("a LIST shows the folders leading to what a + permission lets the caller list, no others", async () => {
  for (const p of ["plus/a/x", "plus/b/y", "plus/c/x/deeper", "plus/d/q", "plus/d/x"]) {
    assert.equal((await v1("POST", `secret/data/${p}`, { data: { v: 1 } })).status, 200);
  }
  const narrow = await s.ok("rootKeys.createRootKey", { permissions: ["secret.list:secret/plus/+/x"] });
  const as = { token: narrow.key };
  const plain = await v1("LIST", "secret/metadata/plus/", undefined, as);
  assert.equal(plain.status, 200, plain.text);
  assert.deepEqual(plain.body.data.keys, ["a/", "d/"]);
  const recursive = await v1("LIST", "secret/metadata/plus/?recursive=true", undefined, as);
  assert.deepEqual(recursive.body.data.keys, ["a/x", "d/x"]);
  assert.deepEqual((await v1("LIST", "secret/metadata/plus/d/", undefined, as)).body.data.keys, ["x"]);
  for (const folder of ["plus/b/", "plus/c/", "plus/none/"]) {
    const r = await v1("LIST", `secret/metadata/${folder}`, undefined, as);
    assert.equal(r.status, 404, `${folder}: ${r.text}`);
    assert.deepEqual(r.body, { errors: [] });
  }
});

test("a data/ path cannot be listed, and every 405 says which method is not served", async () => {
  assert.equal((await v1("POST", "secret/data/lists/x", { data: { v: "not-for-a-list-9" } })).status, 200);
  for (const [method, p] of [["LIST", "secret/data/lists/"], ["LIST", "secret/data/lists/x"],
    ["GET", "secret/data/lists/?list=true"], ["GET", "secret/data/lists/x?list=true"]]) {
    const r = await v1(method, p);
    assert.equal(r.status, 405, `${method} ${p}: ${r.text}`);
    assert.match(r.body.errors[0], /data\/ paths cannot be listed; list a folder with LIST <mount>\/metadata\/<folder>\//);
    assert.ok(!r.text.includes("not-for-a-list-9"), r.text);
  }
  assert.equal((await v1("GET", "secret/data/lists/x?list=false")).body.data.data.v, "not-for-a-list-9");
  assert.equal((await v1("GET", "secret/data/lists/x?list=maybe")).status, 400);
  const r = await v1("DELETE", "secret/config");
  assert.equal(r.status, 405);
  assert.deepEqual(r.body, { errors: ["unsupported operation: DELETE is not served on this path"] });
});

test("the mount in a path is %-decoded as the rest is, with the same refusals", async () => {
  assert.equal((await v1("POST", "sec%72et/data/enc/x", { data: { v: 7 } })).status, 200);
  const read = await v1("GET", "%73ecret/data/enc/x");
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(read.body.data.data, { v: 7 });
  assert.deepEqual((await v1("LIST", "secr%65t/metadata/enc/")).body.data.keys, ["x"]);
  assert.equal((await v1("GET", "sys/internal/ui/mounts/s%65cret")).status, 200);
  for (const bad of ["sec%zzret", "secret%00", "secret%", "s%6"]) {
    const r = await v1("GET", `${bad}/data/enc/x`);
    assert.equal(r.status, 400, `${bad}: ${r.text}`);
    assert.match(r.body.errors[0], /malformed %-escape/);
  }
  assert.equal((await v1("GET", "sys/internal/ui/mounts/sec%zzret")).status, 400);
  assert.equal((await v1("POST", "sys/mounts/m%00", { type: "kv", options: { version: "2" } })).status, 400);
});

test("sys/ and auth/ paths are %-decoded as KV paths are, once, with the same refusals", async () => {
  const plain = await v1("GET", "sys/seal-status", undefined, { token: null });
  assert.equal(plain.status, 200, plain.text);
  for (const p of ["%73ys/seal-status", "sys/seal%2Dstatus", "sys%2Fseal-status"]) {
    const r = await v1("GET", p, undefined, { token: null });
    assert.equal(r.status, 200, `${p}: ${r.text}`);
    assert.deepEqual(r.body, plain.body);
  }
  const self = await v1("GET", "%61uth/token/lookup%2Dself");
  assert.equal(self.status, 200, self.text);
  assert.equal(self.body.data.display_name, "keyhold-root-key");
  assert.equal((await v1("GET", "%61uth/token/lookup%2Dself", undefined, { token: null })).status, 403);
  assert.equal((await v1("GET", "sys/internal/ui/mounts/s%65cret")).status, 200);
  // Decoded once: "%2565" is "%65", no mount's name.
  assert.equal((await v1("GET", "sys/internal/ui/mounts/s%2565cret")).status, 403);
  assert.equal((await v1("POST", "%73ys/mounts/enc%2Dmount", { type: "kv", options: { version: "2" } })).status, 204);
  assert.equal((await v1("GET", "sys/internal/ui/mounts/enc-mount")).status, 200);
  for (const bad of ["sys/seal-status%00", "%73ys/health%zz", "auth/token/lookup-self%", "%61uth/token/%4"]) {
    const r = await v1("GET", bad, undefined, { token: null });
    assert.equal(r.status, 400, `${bad}: ${r.text}`);
    assert.match(r.body.errors[0], /^invalid path: a malformed %-escape/);
  }
});

// /forward-auth over real HTTP, as each proxy asks it: nginx auth_request (X-Original-*),
// Traefik forwardAuth and Caddy forward_auth (X-Forwarded-*), Envoy ext_authz (the original path
// after the prefix, the original method). Route rules come from a TOML file.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Server, tempDir, rawExchange, eventually } from "../lib/keyhold.mjs";

const dir = tempDir("forward-auth");
const rules = path.join(dir, "rules.toml");
fs.writeFileSync(
  rules,
  `[default]
cost = 0

[[route]]
method = "DELETE"
path = "/tickets/*"
permissions = "tickets.delete"
cost = 0

[[route]]
path = "/tickets/**"
permissions = "tickets.read"
cost = 0
ratelimits = [{ name = "tickets", limit = 3, duration = "1m" }]

[[route]]
methods = ["GET", "HEAD"]
path = "/status"
anonymous = true

[[route]]
path = "/metered/**"
cost = 2
`,
);

let s;
let apiId;
let reader; // tickets.read
let admin; // tickets.read, tickets.delete; identity cust_42; 5 credits
let stranger; // a key of another API

before(async () => {
  s = await new Server({ dataDir: path.join(dir, "data") }).start();
  ({ apiId } = await s.ok("apis.createApi", { name: "helpdesk" }));
  const other = await s.ok("apis.createApi", { name: "other" });
  reader = (await s.ok("keys.createKey", { apiId, permissions: ["tickets.read"] })).key;
  admin = (
    await s.ok("keys.createKey", {
      apiId,
      externalId: "cust_42",
      name: "ops",
      meta: { plan: "pro" },
      permissions: ["tickets.read", "tickets.delete"],
      credits: { remaining: 5 },
    })
  ).key;
  stranger = (await s.ok("keys.createKey", { apiId: other.apiId })).key;
  await s.stop();
  s.args = [
    "--forward-auth-apis", apiId,
    "--forward-auth-rules", rules,
    "--forward-auth-key-query", "api_key",
    "--trusted-proxies", "127.0.0.1",
    "--forward-auth-brute-force-threshold", "5",
  ];
  await s.start();
});
after(async () => s?.stop());

// Asks /forward-auth (`suffix` after the prefix: Envoy) with `headers`; no body ever.
async function ask(headers, { method = "GET", suffix = "" } = {}) {
  const res = await fetch(`${s.url}/forward-auth${suffix}`, { method, headers });
  const text = await res.text();
  assert.equal(text, "", "forward-auth answers carry no body");
  return res;
}
const nginx = (uri, method, extra = {}) => ({ "x-original-uri": uri, "x-original-method": method, ...extra });
const traefik = (uri, method, extra = {}) => ({
  "x-forwarded-uri": uri,
  "x-forwarded-method": method,
  "x-forwarded-host": "helpdesk.example.com",
  "x-forwarded-proto": "https",
  ...extra,
});

test("nginx style: allowed with every identity header, denied 401 and 403", async () => {
  const ok = await ask(nginx("/tickets/7", "GET", { authorization: `Bearer ${admin}` }));
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get("x-keyhold-key-id"), /^key_/);
  assert.equal(ok.headers.get("x-keyhold-api-id"), apiId);
  assert.equal(ok.headers.get("x-keyhold-identity"), "cust_42");
  assert.equal(ok.headers.get("x-keyhold-key-name"), "ops");
  assert.equal(ok.headers.get("x-keyhold-permissions"), "tickets.delete,tickets.read");
  assert.equal(ok.headers.get("x-keyhold-meta"), '{"plan":"pro"}');
  assert.equal(ok.headers.get("x-keyhold-credits-remaining"), "5", "this route costs nothing");
  assert.equal(ok.headers.get("ratelimit-policy"), '"tickets";q=3;w=60');
  assert.ok(ok.headers.has("x-request-id"));

  const plain = await ask(nginx("/tickets/7", "GET", { "x-api-key": reader }));
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get("x-keyhold-identity"), "", "sent empty when the key has none");
  assert.equal(plain.headers.get("x-keyhold-meta"), "");
  assert.equal(plain.headers.get("x-keyhold-credits-remaining"), "");

  const none = await ask(nginx("/tickets/7", "GET"));
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="keyhold"');
  assert.equal(none.headers.get("x-keyhold-code"), "MISSING_KEY");

  const denied = await ask(nginx("/tickets/7", "DELETE", { "x-api-key": reader }));
  assert.equal(denied.status, 403);
  assert.equal(denied.headers.get("x-keyhold-code"), "INSUFFICIENT_PERMISSIONS");
  assert.equal(denied.headers.get("x-keyhold-key-id"), null);

  const foreign = await ask(nginx("/tickets/7", "GET", { "x-api-key": stranger }));
  assert.equal(foreign.status, 401, "a key of an API not accepted is unknown here");
});

test("Traefik and Caddy style: X-Forwarded-Method / -Uri / -Host", async () => {
  const ok = await ask(traefik("/tickets/7", "DELETE", { "x-api-key": admin }));
  assert.equal(ok.status, 200);
  const no = await ask(traefik("/tickets/7", "DELETE", { "x-api-key": reader }));
  assert.equal(no.status, 403);
  // The query parameter of the original URI holds the key.
  const q = await ask(traefik(`/tickets?api_key=${encodeURIComponent(reader)}`, "GET"));
  assert.equal(q.status, 200);
  // A client adding X-Original-URI behind Traefik cannot choose which rule is applied.
  const forged = await ask(traefik("/tickets/7", "DELETE", { "x-original-uri": "/status", "x-api-key": reader }));
  assert.equal(forged.status, 400);
  assert.equal(forged.headers.get("x-keyhold-code"), "BAD_ORIGINAL_REQUEST");
});

test("Envoy style: the original path after the prefix, the original method", async () => {
  const ok = await ask({ authorization: `Bearer ${admin}` }, { method: "DELETE", suffix: "/tickets/9" });
  assert.equal(ok.status, 200);
  const no = await ask({ authorization: `Bearer ${reader}` }, { method: "DELETE", suffix: "/tickets/9" });
  assert.equal(no.status, 403);
  const traversal = await ask({ authorization: `Bearer ${reader}` }, { method: "DELETE", suffix: "/status/..%2Ftickets%2F9" });
  assert.equal(traversal.status, 403, "normalized before the rules see it");
  const post = await ask({ authorization: `Bearer ${reader}` }, { method: "POST", suffix: "/status" });
  assert.equal(post.status, 200, "POST /status falls to the default rule: any valid key");
});

test("anonymous routes need no key, and still overwrite forged identity headers", async () => {
  const r = await ask(nginx("/status", "GET", { "x-keyhold-key-id": "key_forged", "x-keyhold-identity": "admin" }));
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("x-keyhold-key-id"), "");
  assert.equal(r.headers.get("x-keyhold-identity"), "");
});

test("a key in two places that disagree is 401", async () => {
  const r = await ask(nginx(`/tickets?api_key=${encodeURIComponent(admin)}`, "GET", { authorization: `Bearer ${reader}` }));
  assert.equal(r.status, 401);
  assert.equal(r.headers.get("x-keyhold-code"), "CONFLICTING_KEYS");
  assert.match(r.headers.get("www-authenticate"), /invalid_token/);
  const same = await ask(nginx(`/tickets?api_key=${encodeURIComponent(reader)}`, "GET", { "x-api-key": reader }));
  assert.equal(same.status, 200);
});

test("no original URI at all is a 400 that names the cause", async () => {
  const r = await ask({ "x-api-key": reader });
  assert.equal(r.status, 400);
  assert.equal(r.headers.get("x-keyhold-code"), "BAD_ORIGINAL_REQUEST");
  const bad = await ask(nginx("/tickets/%zz", "GET", { "x-api-key": reader }));
  assert.equal(bad.status, 400);
});

test("credits: the route's cost is spent, and an empty balance is 403", async () => {
  const first = await ask(nginx("/metered/report", "GET", { "x-api-key": admin }));
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("x-keyhold-credits-remaining"), "3");
  await ask(nginx("/metered/report", "GET", { "x-api-key": admin }));
  const out = await ask(nginx("/metered/report", "GET", { "x-api-key": admin }));
  assert.equal(out.status, 403);
  assert.equal(out.headers.get("x-keyhold-code"), "USAGE_EXCEEDED");
});

test("rate limited: 429 with Retry-After and the IETF RateLimit fields", async () => {
  const { key } = await s.ok("keys.createKey", { apiId, permissions: ["tickets.read"] });
  const h = nginx("/tickets", "GET", { "x-api-key": key });
  for (let i = 0; i < 3; i++) assert.equal((await ask(h)).status, 200);
  const r = await ask(h);
  assert.equal(r.status, 429);
  assert.equal(r.headers.get("x-keyhold-code"), "RATE_LIMITED");
  assert.ok(Number(r.headers.get("retry-after")) >= 1);
  assert.equal(r.headers.get("ratelimit-policy"), '"tickets";q=3;w=60');
  assert.match(r.headers.get("ratelimit"), /^"tickets";r=0;t=\d+$/);
});

test("an address that keeps guessing is refused for the cool-down; other addresses are not", async () => {
  const from = (ip, key) => nginx("/other", "GET", { "x-forwarded-for": ip, "x-api-key": key });
  for (let i = 0; i < 5; i++) assert.equal((await ask(from("203.0.113.9", `hd_guess${i}`))).status, 401);
  const blocked = await ask(from("203.0.113.9", reader));
  assert.equal(blocked.status, 429);
  assert.ok(Number(blocked.headers.get("retry-after")) > 0);
  assert.equal((await ask(from("203.0.113.10", reader))).status, 200);
  await eventually(() => assert.match(s.stderr, /brute force: .*"address":"203\.0\.113\.9".*\(forward-auth\)/));
  await eventually(async () => {
    const list = await s.ok("alerts.list", { kind: "anomaly.brute_force" });
    assert.ok(list.some((a) => a.evidence.address === "203.0.113.9"));
  });
});

test("the surface answers in its own format for errors the listener raises", async () => {
  const raw = await rawExchange(s.port, "GET /forward-auth HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n");
  assert.match(raw, /^HTTP\/1\.1 400/);
  assert.match(raw, /x-keyhold-code: /i);
});

test("a key never reaches the log, even in a query", async () => {
  assert.ok(!s.stderr.includes(reader) && !s.stderr.includes(admin));
  assert.ok(!s.stderr.includes("api_key="));
});

test("a rules file with mistakes stops the server, naming each line", async () => {
  const bad = path.join(dir, "bad.toml");
  fs.writeFileSync(bad, `[[route]]\npath = "/a/**/b"\n\n[[route]]\npath = "/x"\npermissions = "a AND"\n`);
  const srv = new Server({ args: ["--forward-auth-apis", "api_x", "--forward-auth-rules", bad] });
  await assert.rejects(srv.start(), (e) => {
    assert.match(e.message, /bad\.toml, line 2: '\*\*' may only be the last segment/);
    assert.match(e.message, /bad\.toml, line 6: permissions:/);
    return true;
  });
});

test("the rules file docs/forward-auth.md shows is accepted", async () => {
  const doc = fs.readFileSync(new URL("../../docs/forward-auth.md", import.meta.url), "utf8");
  const example = /```toml\n([\s\S]*?)```/.exec(doc)[1];
  const file = path.join(dir, "documented.toml");
  fs.writeFileSync(file, example);
  const srv = await new Server({ args: ["--forward-auth-apis", "api_x", "--forward-auth-rules", file] }).start();
  try {
    assert.match(srv.stderr, /serving \/forward-auth for 1 API\(s\), 3 route rule\(s\)/);
  } finally {
    await srv.stop();
  }
});

test("a bad forward-auth setting stops the server, naming it", async () => {
  await assert.rejects(
    new Server({ args: ["--forward-auth-apis", "api_x", "--forward-auth-proxy", "haproxy"] }).start(),
    /forward_auth_proxy: use auto, nginx, traefik, caddy or envoy/,
  );
  await assert.rejects(
    new Server({ args: ["--forward-auth-apis", "api_x", "--forward-auth-key-query", "a&b"] }).start(),
    /forward_auth_key_query/,
  );
});

test("with the proxy named, only its headers are read", async () => {
  const srv = new Server({
    dataDir: path.join(dir, "data"),
    args: ["--forward-auth-apis", apiId, "--forward-auth-rules", rules, "--forward-auth-proxy", "traefik"],
  });
  await s.stop(); // one server on a data directory at a time
  await srv.start();
  try {
    const r = await fetch(`${srv.url}/forward-auth`, {
      headers: traefik("/tickets/7", "DELETE", { "x-original-uri": "/status", "x-original-method": "GET", "x-api-key": reader }),
    });
    assert.equal(r.status, 403, "judged as DELETE /tickets/7: X-Original-* ignored, not a conflict");
  } finally {
    await srv.stop();
    await s.start();
  }
});

test("without forward_auth_apis the surface is not served", async () => {
  const srv = await new Server().start();
  try {
    const r = await fetch(`${srv.url}/forward-auth`, { headers: { "x-original-uri": "/" } });
    assert.equal(r.status, 404);
  } finally {
    await srv.stop();
  }
});

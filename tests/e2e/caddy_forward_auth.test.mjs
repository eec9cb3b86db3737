// End to end: Debian's Caddy (scripts/setup --test installs it) with forward_auth in front of a
// small upstream, keyhold's /forward-auth deciding. The Caddyfile is the one docs/forward-auth.md
// shows, read from that file.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Server, tempDir } from "../lib/keyhold.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function findCaddy() {
  for (const p of ["/usr/bin/caddy", "/usr/local/bin/caddy"]) {
    if (fs.existsSync(p)) return p;
  }
  try {
    return execFileSync("sh", ["-c", "command -v caddy"], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

function freePort() {
  return new Promise((resolve) => {
    const srv = http.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// The ```caddyfile block of docs/forward-auth.md, pointed at this test's ports, with the admin
// endpoint off (it would take a fixed port).
function documentedCaddyfile({ caddyPort, keyholdPort, appPort }) {
  const doc = fs.readFileSync(path.join(root, "docs/forward-auth.md"), "utf8");
  const m = /```caddyfile\n([\s\S]*?)```/.exec(doc);
  assert.ok(m, "docs/forward-auth.md has a Caddyfile block");
  const site = m[1]
    .replace("helpdesk.example.com {", `http://127.0.0.1:${caddyPort} {`)
    .replace("forward_auth 127.0.0.1:8080 {", `forward_auth 127.0.0.1:${keyholdPort} {`)
    .replace("reverse_proxy 127.0.0.1:3000", `reverse_proxy 127.0.0.1:${appPort}`);
  return `{\n\tadmin off\n\tauto_https off\n}\n\n${site}`;
}

const dir = tempDir("caddy-forward-auth");
let keyhold;
let upstream;
let caddy;
let caddyPort;
let caddyLog = "";
let reader;

before(async () => {
  const bin = findCaddy();
  assert.ok(bin, "caddy is not installed: run scripts/setup --test (it installs Debian's caddy)");
  upstream = http.createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
  });
  await new Promise((r) => upstream.listen(0, "127.0.0.1", r));

  keyhold = new Server({ dataDir: path.join(dir, "data") });
  await keyhold.start();
  const { apiId } = await keyhold.ok("apis.createApi", { name: "helpdesk" });
  reader = (
    await keyhold.ok("keys.createKey", { apiId, externalId: "cust_7", permissions: ["tickets.read"] })
  ).key;
  await keyhold.stop();
  const rules = path.join(dir, "rules.toml");
  fs.writeFileSync(rules, `[[route]]\nmethods = ["GET"]\npath = "/tickets/**"\npermissions = "tickets.read"\ncost = 0\n\n[default]\npermissions = "admin"\ncost = 0\n`);
  keyhold.args = [
    "--forward-auth-apis", apiId,
    "--forward-auth-rules", rules,
    "--forward-auth-proxy", "caddy",
    "--trusted-proxies", "127.0.0.1",
  ];
  await keyhold.start();

  caddyPort = await freePort();
  const file = path.join(dir, "Caddyfile");
  fs.writeFileSync(file, documentedCaddyfile({ caddyPort, keyholdPort: keyhold.port, appPort: upstream.address().port }));
  const home = path.join(dir, "home");
  fs.mkdirSync(home, { recursive: true });
  caddy = spawn(bin, ["run", "--config", file, "--adapter", "caddyfile"], {
    env: { ...process.env, HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  caddy.stdout.on("data", (d) => (caddyLog += d));
  caddy.stderr.on("data", (d) => (caddyLog += d));
  const start = Date.now();
  for (;;) {
    if (caddy.exitCode !== null) throw new Error(`caddy exited: ${caddyLog}`);
    try {
      await fetch(`http://127.0.0.1:${caddyPort}/`);
      break;
    } catch {
      if (Date.now() - start > 10000) throw new Error(`caddy did not start: ${caddyLog}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
});

after(async () => {
  if (caddy && caddy.exitCode === null) {
    caddy.kill("SIGTERM");
    await new Promise((r) => caddy.once("exit", r));
  }
  await keyhold?.stop();
  await new Promise((r) => (upstream ? upstream.close(r) : r()));
});

async function get(p, headers = {}, method = "GET") {
  const res = await fetch(`http://127.0.0.1:${caddyPort}${p}`, { method, headers });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

test("allowed through Caddy: identity headers arrive, forged ones are replaced or removed", async () => {
  const r = await get("/tickets/3", {
    "x-api-key": reader,
    "x-keyhold-key-id": "key_forged",
    "x-keyhold-identity": "admin",
    "x-keyhold-meta": '{"role":"admin"}',
  });
  assert.equal(r.status, 200, r.text);
  const h = r.body.headers;
  assert.match(h["x-keyhold-key-id"], /^key_/);
  assert.notEqual(h["x-keyhold-key-id"], "key_forged");
  assert.equal(h["x-keyhold-identity"], "cust_7");
  assert.equal(h["x-keyhold-permissions"], "tickets.read");
  assert.ok(!h["x-keyhold-meta"], `the key has no meta: the forged value is gone (got ${h["x-keyhold-meta"]})`);
});

test("refusals reach the client as keyhold answered them", async () => {
  const none = await get("/tickets/3");
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="keyhold"');
  const denied = await get("/tickets/3", { "x-api-key": reader }, "DELETE");
  assert.equal(denied.status, 403);
  assert.equal(denied.headers.get("x-keyhold-code"), "INSUFFICIENT_PERMISSIONS");
  assert.equal(denied.body, undefined, "the application was not asked");
});

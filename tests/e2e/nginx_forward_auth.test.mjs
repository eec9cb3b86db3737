// End to end: a real nginx (Debian's package; scripts/setup --test installs it) with
// auth_request in front of a small upstream, keyhold's /forward-auth deciding. The nginx
// configuration is the one docs/forward-auth.md shows, read from that file, so the documented
// configuration is the tested one.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Server, tempDir } from "../lib/keyhold.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function findNginx() {
  for (const p of ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]) {
    if (fs.existsSync(p)) return p;
  }
  try {
    return execFileSync("sh", ["-c", "command -v nginx"], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

// The ```nginx block of docs/forward-auth.md, pointed at this test's ports.
function documentedConfig({ nginxPort, keyholdPort, appPort }) {
  const doc = fs.readFileSync(path.join(root, "docs/forward-auth.md"), "utf8");
  const m = /```nginx\n([\s\S]*?)```/.exec(doc);
  assert.ok(m, "docs/forward-auth.md has an nginx configuration block");
  return m[1]
    .replace("server 127.0.0.1:8080;", `server 127.0.0.1:${keyholdPort};`)
    .replace("server 127.0.0.1:3000;", `server 127.0.0.1:${appPort};`)
    .replace("listen 127.0.0.1:80;", `listen 127.0.0.1:${nginxPort};`);
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

const dir = tempDir("nginx-forward-auth");
let keyhold;
let upstream;
let nginx;
let nginxPort;
let nginxLog = "";
let apiId;
let reader;
let limited;

before(async () => {
  const bin = findNginx();
  assert.ok(bin, "nginx is not installed: run scripts/setup --test (it installs Debian's nginx-light)");

  // The application: answers 200 with the headers it was sent.
  upstream = http.createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
  });
  await new Promise((r) => upstream.listen(0, "127.0.0.1", r));

  keyhold = new Server({ dataDir: path.join(dir, "data") });
  await keyhold.start();
  ({ apiId } = await keyhold.ok("apis.createApi", { name: "helpdesk" }));
  reader = (
    await keyhold.ok("keys.createKey", { apiId, externalId: "cust_42", permissions: ["tickets.read"] })
  ).key;
  limited = (
    await keyhold.ok("keys.createKey", {
      apiId,
      permissions: ["tickets.read"],
      ratelimits: [{ name: "requests", limit: 2, duration: 60000, autoApply: true }],
    })
  ).key;
  await keyhold.stop();
  const rules = path.join(dir, "rules.toml");
  fs.writeFileSync(rules, `[[route]]\npath = "/tickets/**"\npermissions = "tickets.read"\ncost = 0\n\n[default]\npermissions = "admin"\ncost = 0\n`);
  keyhold.args = [
    "--forward-auth-apis", apiId,
    "--forward-auth-rules", rules,
    "--forward-auth-proxy", "nginx",
    "--forward-auth-nginx-mode", "true",
    "--trusted-proxies", "127.0.0.1",
  ];
  await keyhold.start();

  nginxPort = await freePort();
  const prefix = path.join(dir, "nginx");
  fs.mkdirSync(path.join(prefix, "logs"), { recursive: true });
  fs.mkdirSync(path.join(prefix, "tmp"), { recursive: true });
  // Workers run as the user starting nginx; `user` is only honoured (and needed) for root.
  const user = process.getuid() === 0 ? `user ${os.userInfo().username};\n` : "";
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((t) => `    ${t}_temp_path ${prefix}/tmp/${t};`)
    .join("\n");
  const conf = `${user}worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log info;
events { worker_connections 256; }
http {
    access_log ${prefix}/logs/access.log;
${temp}
${documentedConfig({ nginxPort, keyholdPort: keyhold.port, appPort: upstream.address().port })}
}
`;
  fs.writeFileSync(path.join(prefix, "nginx.conf"), conf);
  nginx = spawn(bin, ["-p", prefix, "-c", path.join(prefix, "nginx.conf"), "-e", path.join(prefix, "logs/error.log"), "-g", "daemon off;"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  nginx.stdout.on("data", (d) => (nginxLog += d));
  nginx.stderr.on("data", (d) => (nginxLog += d));
  const start = Date.now();
  for (;;) {
    if (nginx.exitCode !== null) throw new Error(`nginx exited: ${nginxLog}${fs.readFileSync(path.join(prefix, "logs/error.log"), "utf8")}`);
    try {
      await fetch(`http://127.0.0.1:${nginxPort}/`);
      break;
    } catch {
      if (Date.now() - start > 10000) throw new Error(`nginx did not start: ${nginxLog}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
});

after(async () => {
  if (nginx && nginx.exitCode === null) {
    nginx.kill("SIGQUIT");
    await new Promise((r) => nginx.once("exit", r));
  }
  await keyhold?.stop();
  await new Promise((r) => (upstream ? upstream.close(r) : r()));
});

async function get(p, headers = {}) {
  const res = await fetch(`http://127.0.0.1:${nginxPort}${p}`, { headers });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

test("allowed: the application gets the identity headers, and the client's forged ones are gone", async () => {
  const r = await get("/tickets/7?x=1", {
    authorization: `Bearer ${reader}`,
    "x-keyhold-key-id": "key_forged",
    "x-keyhold-identity": "admin",
    "x-keyhold-permissions": "*",
    "x-keyhold-meta": '{"role":"admin"}',
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.url, "/tickets/7?x=1");
  const h = r.body.headers;
  assert.match(h["x-keyhold-key-id"], /^key_/);
  assert.notEqual(h["x-keyhold-key-id"], "key_forged");
  assert.equal(h["x-keyhold-api-id"], apiId);
  assert.equal(h["x-keyhold-identity"], "cust_42");
  assert.equal(h["x-keyhold-permissions"], "tickets.read");
  assert.equal(h["x-keyhold-meta"], undefined, "the key has no meta: the forged value is removed");
  assert.equal(h.authorization, undefined, "the key is not passed on");
});

test("no key or an unknown key: 401 with the challenge, the application never asked", async () => {
  const none = await get("/tickets/7");
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="keyhold"');
  const bad = await get("/tickets/7", { "x-api-key": "hd_not_a_real_key_000000000000000000" });
  assert.equal(bad.status, 401);
  assert.match(bad.headers.get("www-authenticate"), /invalid_token/);
  assert.equal(bad.body, undefined, "nginx's own error page, not the application's answer");
});

test("a key without the route's permission: 403", async () => {
  const r = await get("/admin/users", { "x-api-key": reader });
  assert.equal(r.status, 403);
  assert.equal(r.body, undefined);
});

test("rate limited, nginx mode: the client gets 429 with Retry-After and RateLimit", async () => {
  assert.equal((await get("/tickets", { "x-api-key": limited })).status, 200);
  assert.equal((await get("/tickets", { "x-api-key": limited })).status, 200);
  const r = await get("/tickets", { "x-api-key": limited });
  assert.equal(r.status, 429, r.text);
  assert.ok(Number(r.headers.get("retry-after")) >= 1, "Retry-After carried through");
  assert.match(r.headers.get("ratelimit"), /^"requests";r=0;t=\d+$/);
  assert.equal(r.headers.get("ratelimit-policy"), '"requests";q=2;w=60');
});

test("with the proxy named, a client's X-Forwarded-Uri cannot choose the rule, nor refuse itself", async () => {
  const r = await get("/admin/users", { "x-api-key": reader, "x-forwarded-uri": "/tickets/1" });
  assert.equal(r.status, 403, "judged as /admin/users, what nginx asked about");
});

test("nginx never answered 500 for a policy decision", async () => {
  const log = fs.readFileSync(path.join(dir, "nginx/logs/access.log"), "utf8");
  assert.ok(!/" 500 /.test(log), log);
  assert.ok(!keyhold.stderr.includes(reader) && !keyhold.stderr.includes(limited));
});

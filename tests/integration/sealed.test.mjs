// Sealed start: `operator init-shares` splits the master key, `serve` starts sealed (keys verify,
// secrets answer 503), `operator unseal` gives shares until the threshold, and a restart is sealed
// again. No share ever appears in the server's output.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { Webhook } from "standardwebhooks";
import { Server, cli, eventually, tempDir, vaultRequest as v1 } from "../lib/keyhold.mjs";

const servers = [];
const allShares = [];
after(async () => {
  for (const s of servers) {
    await s.stop();
    for (const share of allShares) {
      assert.equal(s.stderr.includes(share) || s.stdout.includes(share), false, "a share was logged");
    }
  }
});

async function initShares(dataDir, shares, threshold, env = {}) {
  const r = await cli(["operator", "init-shares", "--data-dir", dataDir, "--shares", String(shares),
    "--threshold", String(threshold), "--json"], { env });
  if (r.code === 0) allShares.push(...JSON.parse(r.stdout).unseal_keys_b64);
  return r;
}

async function get(s, p) {
  const res = await fetch(`${s.url}${p}`);
  return { status: res.status, body: await res.json() };
}

function unseal(s, input, args = []) {
  return cli(["operator", "unseal", ...args], { env: { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: "" }, input });
}

// A share with this split's id, threshold and index, a valid checksum, but other y bytes: it
// passes every check a single share can get, and only the key check catches the set.
function forge(share) {
  const b = Buffer.from(share, "base64");
  const body = b.subarray(0, b.length - 4);
  body[10] ^= 0x5a;
  const sum = crypto.createHash("sha256").update(body).digest().subarray(0, 4);
  return Buffer.concat([body, sum]).toString("base64");
}

test("init-shares seals a data directory; serve starts sealed; unseal by shares; restart is sealed", async () => {
  const dataDir = path.join(tempDir(), "data");
  const init = await initShares(dataDir, 5, 3);
  assert.equal(init.code, 0, init.stderr);
  const out = JSON.parse(init.stdout);
  assert.equal(out.unseal_shares, 5);
  assert.equal(out.unseal_threshold, 3);
  assert.equal(out.unseal_keys_b64.length, 5);
  assert.equal(new Set(out.unseal_keys_b64).size, 5);
  assert.ok(out.rootKey, "a new directory gets its first root key");
  const shares = out.unseal_keys_b64;
  assert.equal(fs.existsSync(path.join(dataDir, "master.key")), false, "the plain master key is removed");
  const sealFile = path.join(dataDir, "seal.json");
  assert.equal(fs.statSync(sealFile).mode & 0o777, 0o600);
  const sealConfig = JSON.parse(fs.readFileSync(sealFile, "utf8"));
  assert.deepEqual([sealConfig.type, sealConfig.threshold, sealConfig.shares], ["shamir", 3, 5]);

  // Running it again is refused: the key exists only as shares now.
  const again = await initShares(dataDir, 3, 2);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already sealed/);

  let s = new Server({ dataDir });
  servers.push(s);
  await s.start();
  s.rootKey = out.rootKey;
  assert.match(s.stderr, /sealed/);

  // Keys are created and verified while sealed.
  const { apiId } = await s.ok("apis.createApi", { name: "sealed" });
  const { key } = await s.ok("keys.createKey", { apiId });
  assert.equal((await s.ok("keys.verifyKey", { key })).valid, true);

  // Secrets are Vault's 503 "sealed"; health and seal-status say so.
  let r = await v1(s, "GET", "secret/data/app/db");
  assert.equal(r.status, 503);
  assert.deepEqual(r.body, { errors: ["Vault is sealed"] });
  r = await v1(s, "POST", "secret/data/app/db", { data: { password: "sealed-write" } });
  assert.equal(r.status, 503);
  // keyhold's rotation operations on secrets wait too, in the /v2/ envelope.
  r = await s.call("secrets.listDue", {});
  assert.equal(r.status, 503, r.text);
  assert.equal(r.body.error.status, 503);
  assert.match(r.body.error.detail, /sealed/);
  r = await v1(s, "GET", "sys/health", undefined, null);
  assert.equal(r.status, 503);
  assert.equal(r.body.sealed, true);
  assert.equal(r.body.initialized, true);
  assert.equal((await v1(s, "GET", "sys/health?sealedcode=200", undefined, null)).status, 200);
  // Codes that cannot carry the health body are refused, not sent.
  for (const code of ["204", "304", "100", "199", "600", "20"]) {
    assert.equal((await v1(s, "GET", `sys/health?sealedcode=${code}`, undefined, null)).status, 400, code);
  }
  r = await v1(s, "GET", "sys/seal-status", undefined, null);
  assert.equal(r.status, 200);
  assert.deepEqual([r.body.sealed, r.body.t, r.body.n, r.body.progress, r.body.type], [true, 3, 5, 0, "shamir"]);
  let ready = await get(s, "/health/ready");
  assert.deepEqual([ready.status, ready.body.status], [200, "sealed"]);
  assert.equal((await get(s, "/health")).body.sealed, true);
  const metrics = await (await fetch(`${s.url}/metrics`)).text();
  assert.match(metrics, /^keyhold_sealed 1$/m);

  // Bad requests to sys/unseal.
  r = await v1(s, "PUT", "sys/unseal", {}, null);
  assert.equal(r.status, 400);
  r = await v1(s, "PUT", "sys/unseal", { key: "not-a-share" }, null);
  assert.equal(r.status, 400);
  assert.equal(JSON.stringify(r.body).includes("not-a-share"), false, "the share is never echoed");

  // A mistyped share, and a share of another directory's split, are refused through the CLI.
  const mistyped = shares[0].slice(0, 10) + (shares[0][10] === "A" ? "B" : "A") + shares[0].slice(11);
  // A share given as an argument is refused without being echoed.
  let u = await unseal(s, "", [shares[0]]);
  assert.equal(u.code, 2);
  assert.ok(!u.stderr.includes(shares[0]) && !u.stdout.includes(shares[0]), "the share was echoed");
  assert.match(u.stderr, /never from the command line/);
  u = await unseal(s, mistyped + "\n");
  assert.equal(u.code, 1);
  assert.match(u.stderr, /checksum/);
  assert.equal(u.stderr.includes(mistyped), false);
  const other = await initShares(path.join(tempDir(), "data"), 2, 2);
  u = await unseal(s, JSON.parse(other.stdout).unseal_keys_b64[0] + "\n");
  assert.equal(u.code, 1);
  assert.match(u.stderr, /another split/);
  assert.equal((await v1(s, "GET", "sys/seal-status", undefined, null)).body.progress, 0);

  // A set that passes every per-share check but does not give the master key: refused, still sealed.
  u = await unseal(s, `${shares[0]}\n${shares[1]}\n${forge(shares[2])}\n`);
  assert.equal(u.code, 1);
  assert.match(u.stderr, /do not reconstruct the master key/);
  r = await v1(s, "GET", "sys/seal-status", undefined, null);
  assert.deepEqual([r.body.sealed, r.body.progress], [true, 0]);
  assert.equal((await v1(s, "GET", "secret/data/app/db")).status, 503);

  // Two shares, then a repeat (refused), then a reset, then three: unsealed.
  u = await unseal(s, `${shares[4]}\n${shares[1]}\n`);
  assert.equal(u.code, 0, u.stderr);
  assert.equal(u.stdout, "sealed; unseal progress 2/3\n");
  u = await unseal(s, `${shares[1]}\n`);
  assert.equal(u.code, 1);
  assert.match(u.stderr, /already been provided/);
  u = await unseal(s, "", ["--reset", "--json"]);
  assert.equal(u.code, 0, u.stderr);
  assert.equal(JSON.parse(u.stdout).progress, 0);
  u = await unseal(s, `${shares[3]}\n`);
  assert.equal(u.stdout, "sealed; unseal progress 1/3\n");
  u = await unseal(s, `${shares[0]}\n\n${shares[2]}\n`, ["--json"]);
  assert.equal(u.code, 0, u.stderr);
  assert.equal(JSON.parse(u.stdout).sealed, false);

  // Unsealed: secrets are served, health is 200, ready is ready.
  r = await v1(s, "POST", "secret/data/app/db", { data: { password: "pw-after-unseal" } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  r = await v1(s, "GET", "secret/data/app/db");
  assert.equal(r.body.data.data.password, "pw-after-unseal");
  r = await s.call("secrets.getRotation", { path: "app/db" });
  assert.equal(r.status, 200, r.text);
  assert.equal((await v1(s, "GET", "sys/health", undefined, null)).status, 200);
  assert.equal((await v1(s, "GET", "sys/health?activecode=204", undefined, null)).status, 400);
  assert.equal((await v1(s, "GET", "sys/health?activecode=429", undefined, null)).status, 429);
  // Every code is checked, as Vault does, whether or not it applies; and so are the flags.
  for (const q of ["sealedcode=abc", "standbycode=abc", "uninitcode=", "drsecondarycode=99",
    "performancestandbycode=1000", "removedcode=304", "haunhealthycode=x", "standbyok=maybe",
    "perfstandbyok=2"]) {
    assert.equal((await v1(s, "GET", `sys/health?${q}`, undefined, null)).status, 400, q);
  }
  assert.equal((await v1(s, "GET", "sys/health?standbycode=429&standbyok=true", undefined, null)).status, 200);
  assert.equal((await v1(s, "GET", "sys/seal-status", undefined, null)).body.sealed, false);
  ready = await get(s, "/health/ready");
  assert.deepEqual([ready.status, ready.body.status], [200, "ready"]);
  assert.match(await (await fetch(`${s.url}/metrics`)).text(), /^keyhold_sealed 0$/m);
  assert.equal((await s.ok("keys.verifyKey", { key })).valid, true);
  u = await unseal(s, `${shares[1]}\n`);  // more shares change nothing
  assert.equal(u.stdout, "unsealed\n");
  // Nor do resets, which need no token: answered, not audited (the log below has no more).
  for (let i = 0; i < 3; i++) {
    const reset = await v1(s, "PUT", "sys/unseal", { reset: true }, null);
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.deepEqual([reset.body.sealed, reset.body.progress], [false, 0]);
  }

  // Every attempt made while sealed is in the audit log, with the client's address and the
  // request id, and no share in it.
  const events = (await s.ok("audit.listEvents", { action: "seal.*", limit: 100 })).reverse();
  const text = JSON.stringify(events);
  for (const share of [...shares, mistyped]) {
    assert.equal(text.includes(share) || text.includes(share.slice(-20)), false, "a share was audited");
  }
  const summary = events.map((e) => {
    const d = typeof e.details === "string" ? JSON.parse(e.details) : e.details;
    return `${e.action} ${e.outcome}${d.reason ? " " + d.reason : ""}`;
  });
  assert.deepEqual(summary, [
    "seal.unseal_share failed malformed", "seal.unseal_share failed malformed",
    "seal.unseal_share failed foreign",
    // The third share is taken; the set it completes does not give the key.
    "seal.unseal_share success", "seal.unseal_share success", "seal.unseal_share success",
    "seal.unseal_share failed wrong_key",
    "seal.unseal_share success", "seal.unseal_share success", "seal.unseal_share failed repeated",
    "seal.unseal_reset success",
    "seal.unseal_share success", "seal.unseal_share success", "seal.unseal_share success",
    "seal.unseal success",
  ]);
  assert.ok(events.every((e) => e.requestId?.startsWith("req_") && e.clientIp === "127.0.0.1"),
    JSON.stringify(events[0]));

  // A restart is sealed again; three other shares open the same secrets. A key given
  // explicitly must be the one the shares make.
  await s.stop();
  const wrong = new Server({ dataDir, env: { KEYHOLD_MASTER_KEY: crypto.randomBytes(32).toString("hex") } });
  await assert.rejects(wrong.start(), /is not the one .*seal\.json was made for/);
  s = new Server({ dataDir });
  servers.push(s);
  await s.start();
  s.rootKey = out.rootKey;
  assert.equal((await v1(s, "GET", "secret/data/app/db")).status, 503);
  assert.equal((await v1(s, "GET", "sys/seal-status", undefined, null)).body.sealed, true);
  assert.equal((await s.ok("keys.verifyKey", { key })).valid, true);
  u = await unseal(s, `${shares[4]}\n${shares[2]}\n${shares[3]}\n`);
  assert.equal(u.code, 0, u.stderr);
  assert.equal(u.stdout, "unsealed\n");
  r = await v1(s, "GET", "secret/data/app/db");
  assert.equal(r.status, 200);
  assert.equal(r.body.data.data.password, "pw-after-unseal");
});

test("a server with its master key is unsealed; init-shares refuses a key it does not own", async () => {
  const s = new Server();
  servers.push(s);
  await s.start();
  const r = await v1(s, "GET", "sys/seal-status", undefined, null);
  assert.deepEqual([r.body.sealed, r.body.t, r.body.n], [false, 1, 1]);
  assert.equal((await v1(s, "PUT", "sys/unseal", { key: "x" }, null)).body.sealed, false);
  await s.stop();

  const hex = crypto.randomBytes(32).toString("hex");
  let init = await initShares(path.join(tempDir(), "data"), 3, 2, { KEYHOLD_MASTER_KEY: hex });
  assert.equal(init.code, 1);
  assert.match(init.stderr, /KEYHOLD_MASTER_KEY/);
  assert.equal(init.stderr.includes(hex), false);
  const keyFile = path.join(tempDir(), "mk");
  fs.writeFileSync(keyFile, hex, { mode: 0o600 });
  init = await initShares(path.join(tempDir(), "data"), 3, 2, { KEYHOLD_MASTER_KEY_FILE: keyFile });
  assert.equal(init.code, 1);
  assert.match(init.stderr, /KEYHOLD_MASTER_KEY_FILE/);
  assert.ok(fs.existsSync(keyFile));
  init = await initShares(path.join(tempDir(), "data"), 2, 3);
  assert.equal(init.code, 2);

  // A master.key that does not open the directory's secrets is not split.
  const keyPath = path.join(s.dataDir, "master.key");
  fs.writeFileSync(keyPath, crypto.randomBytes(32).toString("hex") + "\n", { mode: 0o600 });
  init = await initShares(s.dataDir, 2, 2);
  assert.equal(init.code, 1);
  assert.match(init.stderr, /cannot open the secrets keyring.*nothing was split/);
  assert.ok(fs.existsSync(keyPath));
  assert.equal(fs.existsSync(path.join(s.dataDir, "seal.json")), false);
});

test("an existing directory keeps its key; alerts raised while sealed are delivered after unseal", async () => {
  const received = [];
  const rx = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => rx.listen(0, "127.0.0.1", resolve));
  const args = ["--webhook-allow-private-networks", "true"];
  const dataDir = path.join(tempDir(), "data");
  let s = new Server({ dataDir, args });
  servers.push(s);
  await s.start();
  const root = s.rootKey;
  assert.equal((await v1(s, "POST", "secret/data/before", { data: { v: "written-unsealed" } })).status, 200);
  const endpoint = await s.ok("webhooks.createEndpoint", { url: `http://127.0.0.1:${rx.address().port}/hook` });
  await s.stop();

  const init = await initShares(dataDir, 1, 1);
  assert.equal(init.code, 0, init.stderr);
  const out = JSON.parse(init.stdout);
  assert.equal(out.rootKey, undefined, "an existing directory's root key is not made again");
  s = new Server({ dataDir, args });
  servers.push(s);
  await s.start();
  s.rootKey = root;
  assert.equal((await v1(s, "GET", "secret/data/before")).status, 503);
  // No signing secret can be made while sealed; an alert is queued, not sent.
  const created = await s.call("webhooks.createEndpoint", { url: "https://hooks.example.com/x" });
  assert.equal(created.status, 503);
  const tested = await s.ok("webhooks.testEndpoint", { endpointId: endpoint.endpointId });
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(received.length, 0, "nothing is delivered while sealed");

  const r = await v1(s, "PUT", "sys/unseal", { key: out.unseal_keys_b64[0] }, null);
  assert.equal(r.status, 200);
  assert.equal(r.body.sealed, false);
  assert.equal((await v1(s, "GET", "secret/data/before")).body.data.data.v, "written-unsealed");
  await eventually(async () => assert.equal(received.length, 1));
  const payload = new Webhook(endpoint.secret).verify(received[0].body, received[0].headers);
  assert.equal(payload.data.id, tested.alertId);
  assert.equal((await s.call("webhooks.createEndpoint", { url: "https://hooks.example.com/x" })).status, 200);
  await new Promise((resolve) => rx.close(resolve));
});

// Setting up, starting, stopping and crashing the server.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { Server, cli, tempDir, selfSignedCert, httpsPost, eventually } from "../lib/keyhold.mjs";

test("init creates a private data directory and prints the root key once as JSON", async () => {
  const dir = path.join(tempDir(), "nested", "data");
  const r = await cli(["init", "--data-dir", dir, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.match(out.rootKeyId, /^key_/);
  assert.match(out.rootKey, /^khr_/);
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  assert.equal(fs.statSync(path.join(dir, "master.key")).mode & 0o777, 0o600);
  for (const f of fs.readdirSync(dir)) {
    assert.equal(fs.statSync(path.join(dir, f)).mode & 0o077, 0, `${f} is private`);
  }
  const again = await cli(["init", "--data-dir", dir, "--json"]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already initialized/);
  assert.ok(!again.stdout.includes("khr_"));

  // Serving an initialized directory prints no key; the init key works.
  const s = new Server({ dataDir: dir });
  await s.start();
  assert.equal(s.rootKey, undefined);
  s.rootKey = out.rootKey;
  await s.ok("apis.createApi", { name: "x" });
  assert.ok(!s.stderr.includes(out.rootKey), "the root key never reaches the log");
  await s.stop();
});

test("serve on an empty directory bootstraps and prints the root key on stdout only", async () => {
  const s = await new Server().start();
  assert.match(s.rootKey, /^khr_/);
  assert.ok(!s.stderr.includes(s.rootKey));
  // Set before SQLite initializes, as it can only be.
  assert.doesNotMatch(s.stderr, /memory statistics/);
  await s.ok("apis.createApi", { name: "x" });
  const { code } = await s.stop();
  assert.equal(code, 0);
  const second = await new Server({ dataDir: s.dataDir }).start();
  assert.equal(second.rootKey, undefined, "the key is shown only the first time");
  await second.stop();
});

test("a second server on the same data directory is refused; a killed one releases it", async () => {
  const s = await new Server().start();
  await assert.rejects(
    new Server({ dataDir: s.dataDir }).start(),
    /another keyhold server is serving/,
  );
  assert.equal((await s.call("apis.listApis", {})).status, 200, "the first one serves on");
  await s.stop("SIGKILL");
  const again = await new Server({ dataDir: s.dataDir }).start();
  await again.stop();
});

test("a directory whose database is a link to a served one is refused; SQLite's locks still work", async () => {
  const a = await new Server().start();
  const { apiId: before } = await a.ok("apis.createApi", { name: "before" });
  const other = path.join(tempDir(), "data");
  fs.mkdirSync(other, { mode: 0o700 });
  fs.copyFileSync(path.join(a.dataDir, "master.key"), path.join(other, "master.key"));
  fs.symlinkSync(path.join(a.dataDir, "keyhold.db"), path.join(other, "keyhold.db"));
  const refused = new Server({ dataDir: other });
  await assert.rejects(refused.start(), /another keyhold server is serving the database /);
  assert.ok(!refused.stdout.includes("khr_"), "a refused server creates no root key");
  // The first serves on, and a reader beside it (SQLite's own locks) sees its writes.
  const { apiId: after } = await a.ok("apis.createApi", { name: "after" });
  const verify = await cli(["audit", "verify", "--data-dir", a.dataDir]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  await a.stop();
  // Once it has stopped, the database is served through the link, with all it holds.
  const b = await new Server({ dataDir: other }).start();
  assert.equal(b.rootKey, undefined, "the linked database already has its root key");
  b.rootKey = a.rootKey;
  for (const apiId of [before, after]) await b.ok("apis.getApi", { apiId });
  // And the first directory is now the one refused.
  await assert.rejects(new Server({ dataDir: a.dataDir }).start(), /another keyhold server is serving the database /);
  await b.stop();
});

test("servers started at once on a new directory: one serves, the others are refused for that alone", async () => {
  for (let round = 0; round < 30; round++) {
    const dataDir = path.join(tempDir(), "data");
    const servers = [1, 2, 3, 4].map(() => new Server({ dataDir }));
    const started = await Promise.allSettled(servers.map((s) => s.start()));
    const why = started.map((r) => r.reason?.message ?? "started").join("\n");
    const winners = servers.filter((_, i) => started[i].status === "fulfilled");
    assert.equal(winners.length, 1, `round ${round}: ${why}`);
    const [winner] = winners;
    for (const loser of servers.filter((s) => s !== winner)) {
      assert.equal((await loser.exited).code, 1, `round ${round}`);
      // The lock's refusal and no other complaint: not a master key file half written by the
      // winner, nor a directory or file that the winner created first.
      const complaints = loser.stderr
        .split("\n")
        .filter((l) => /\[(error|warning|critical)\]|cannot|must/i.test(l));
      assert.equal(complaints.length, 1, `round ${round}: ${loser.stderr}`);
      assert.match(complaints[0], /another keyhold server is serving /, `round ${round}`);
      assert.ok(!loser.stdout.includes("khr_"), "a refused server creates no root key");
    }
    assert.match(winner.rootKey, /^khr_/);
    await winner.ok("apis.createApi", { name: `round${round}` });
    assert.equal((await winner.stop()).code, 0);
  }
});

test("a loose master key file is refused", async () => {
  const dir = tempDir();
  const keyFile = path.join(dir, "mk");
  fs.writeFileSync(keyFile, "00".repeat(32), { mode: 0o644 });
  const r = await cli(["init", "--data-dir", path.join(dir, "d"), "--master-key-file", keyFile]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /0600/);
});

test("settings: flag beats KEYHOLD_* beats TOML file; bad file names its line", async () => {
  const dir = tempDir();
  const toml = path.join(dir, "keyhold.toml");
  fs.writeFileSync(toml, `listen = "127.0.0.1:1"\nlog_level = "warn"\n`);
  // env overrides the file's listen; the flag overrides env's data dir.
  const s = new Server({
    dataDir: path.join(dir, "flagdata"),
    args: ["--config", toml, "--log-level", "info"],
    env: { KEYHOLD_DATA_DIR: path.join(dir, "envdata") },
  });
  await s.start(); // Server passes --listen 127.0.0.1:0 as a flag
  assert.ok(fs.existsSync(path.join(dir, "flagdata")));
  assert.ok(!fs.existsSync(path.join(dir, "envdata")));
  await s.stop();
  fs.writeFileSync(toml, `listen = "127.0.0.1:0"\nthreads = = 2\n`);
  const bad = await cli(["serve", "--config", toml, "--data-dir", path.join(dir, "x")]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /line 2/);
  const help = await cli(["serve", "--help"]);
  for (const name of ["--data-dir", "KEYHOLD_DATA_DIR", "--listen", "KEYHOLD_LISTEN", "--tls-cert", "--threads", "--config"]) {
    assert.ok(help.stdout.includes(name), `serve --help mentions ${name}`);
  }
});

test("HTTPS with TLS 1.2 or later", async () => {
  const dir = tempDir();
  const { key, cert, ca } = selfSignedCert(dir);
  const s = new Server({ args: ["--tls-cert", cert, "--tls-key", key] });
  s.ca = ca;
  await s.start();
  assert.match(s.url, /^https:/);
  const r = await s.call("apis.createApi", { name: "tls" });
  assert.equal(r.status, 200);
  assert.match(r.tls, /^TLSv1\.[23]$/);
  // TLS 1.1 is refused.
  await assert.rejects(
    httpsPost(`${s.url}/v2/apis.createApi`, "{}", {}, ca, { maxVersion: "TLSv1.1", minVersion: "TLSv1" }),
  );
  // Plain HTTP to the TLS port gets no answer.
  const plain = await fetch(`http://127.0.0.1:${s.port}/v2/liveness`).then(() => "answered", () => "refused");
  assert.equal(plain, "refused");
  await s.stop();
});

test("SIGTERM lets an in-flight request finish, then exits 0", async () => {
  const s = await new Server().start();
  const { apiId } = await s.ok("apis.createApi", { name: "drain" });
  // Send the headers now and the body later, so the request is in flight during SIGTERM.
  const body = JSON.stringify({ apiId });
  const sock = net.connect(s.port, "127.0.0.1");
  await new Promise((r) => sock.on("connect", r));
  let answer = "";
  sock.on("data", (d) => (answer += d));
  sock.write(`POST /v2/keys.createKey HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.rootKey}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
  await new Promise((r) => setTimeout(r, 200));
  s.proc.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 200));
  sock.write(body);
  const { code } = await s.exited;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(code, 0);
  assert.match(answer, /^HTTP\/1\.1 200/);
  assert.match(answer, /"keyId":"key_/);
});

// Spends are made durable in batches (one sync for many), each answered only once its batch is,
// and busy keys reserve credits ahead in those writes: killed in the middle of a spending load, the
// server may lose spends nobody was told about and forfeit what was reserved (at most 4,096 credits
// a key), but never loses one that was answered VALID, and never grants a credit twice.
test("kill -9 under a credit-spending load: no answered spend is lost, none is granted twice", async () => {
  const s = await new Server().start();
  const { apiId } = await s.ok("apis.createApi", { name: "spending" });
  const START = 1000000;
  const keys = [];
  for (let i = 0; i < 4; i++) keys.push(await s.ok("keys.createKey", { apiId, credits: { remaining: START } }));
  const answered = new Map(keys.map((k) => [k.keyId, 0]));
  const CLIENTS = 32;  // each has at most one verification in flight
  let killed = false;
  const client = async (i) => {
    const k = keys[i % keys.length];
    while (!killed) {
      try {
        const r = await s.call("keys.verifyKey", { key: k.key });
        if (r.status === 200 && r.body.data.valid) answered.set(k.keyId, answered.get(k.keyId) + 1);
        else if (!killed) throw new Error(`unexpected answer ${r.status}: ${r.text}`);
      } catch (e) {
        if (!killed) throw e;
      }
    }
  };
  const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
  await eventually(() => assert.ok([...answered.values()].every((n) => n >= 50)), 30000);
  killed = true;
  s.proc.kill("SIGKILL");
  await Promise.allSettled(clients);
  await s.exited;
  const root = s.rootKey;
  const again = new Server({ dataDir: s.dataDir });
  await again.start();
  again.rootKey = root;
  let unanswered = 0;
  for (const k of keys) {
    const { credits } = await again.ok("keys.getKey", { keyId: k.keyId });
    const spent = START - credits.remaining;
    assert.ok(spent >= answered.get(k.keyId), `key ${k.keyId}: ${answered.get(k.keyId)} spends answered, ${spent} kept`);
    unanswered += spent - answered.get(k.keyId);
  }
  const MAX_RESERVED = 4096;
  assert.ok(unanswered <= CLIENTS + keys.length * MAX_RESERVED, `${unanswered} credits gone that were never answered`);
  await again.stop();
});

test("kill -9 loses no acknowledged write", async () => {
  const s = await new Server().start();
  const { apiId } = await s.ok("apis.createApi", { name: "crash" });
  const keys = [];
  for (let i = 0; i < 20; i++) {
    keys.push(await s.ok("keys.createKey", { apiId, credits: { remaining: 10 } }));
  }
  for (const k of keys.slice(0, 10)) assert.equal((await s.ok("keys.verifyKey", { key: k.key })).code, "VALID");
  await s.ok("keys.deleteKey", { keyId: keys[19].keyId });
  await s.ok("keys.updateKey", { keyId: keys[18].keyId, enabled: false });
  await s.stop("SIGKILL");
  const root = s.rootKey;
  const again = new Server({ dataDir: s.dataDir });
  await again.start();
  again.rootKey = root;
  for (const [i, k] of keys.entries()) {
    const v = await again.ok("keys.verifyKey", { key: k.key });
    const want = i === 19 ? "NOT_FOUND" : i === 18 ? "DISABLED" : "VALID";
    assert.equal(v.code, want, `key ${i}`);
    if (i < 10) assert.equal(v.credits, 8, "the spend acknowledged before the crash is kept");
  }
  await again.stop();
});

// Leak response from outside: signed reports a code host sends to POST /leak-reports, and
// `keyhold scan --revoke`, which reports every keyhold key it finds to the server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Server, cli, eventually, issuedKeys, tempDir } from "../lib/keyhold.mjs";

let s;
let env;
let keysFile;
let revoking;
let disabling;
const host = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const pem = (k) => k.publicKey.export({ type: "spki", format: "pem" });

function writeKeys(entries) {
  fs.writeFileSync(keysFile, JSON.stringify({
    public_keys: entries.map(([id, k]) => ({ key_identifier: id, key: pem(k), is_current: true })),
  }));
}

before(async () => {
  const dir = tempDir("leaks");
  keysFile = path.join(dir, "leak-report-keys.json");
  writeKeys([["host-1", host]]);
  s = await new Server({ args: ["--leak-report-keys", keysFile] }).start();
  env = { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: s.rootKey };
  revoking = (await s.ok("apis.createApi", { name: "helpdesk" })).apiId;
  disabling = (await s.ok("apis.createApi", { name: "mail", onLeak: "disable" })).apiId;
});
after(async () => {
  await s.stop();
  const haystacks = [["server log", s.stderr]];
  for (const f of fs.readdirSync(s.dataDir)) {
    haystacks.push([f, fs.readFileSync(path.join(s.dataDir, f)).toString("latin1")]);
  }
  for (const [where, text] of haystacks) {
    for (const k of issuedKeys) assert.ok(!text.includes(k), `an issued key appears in ${where}`);
  }
});

const verify = async (key) => (await s.ok("keys.verifyKey", { key })).code;

// POSTs a report signed by `by` (a key pair), as a code host does.
async function report(body, { by = host, id = "host-1", signature } = {}) {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const sig = signature ?? crypto.sign("sha256", Buffer.from(raw), by.privateKey).toString("base64");
  const res = await fetch(`${s.url}/leak-reports`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "github-public-key-identifier": id,
      "github-public-key-signature": sig,
    },
    body: raw,
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) };
}

const match = (token) => ({
  token,
  type: "keyhold_api_key",
  url: "https://github.com/acme/app/blob/0a1b2c/config.yml",
  source: "content",
});

test("a signed report revokes or disables each keyhold key, and answers alike for any token", async () => {
  const a = await s.ok("keys.createKey", { apiId: revoking });
  const b = await s.ok("keys.createKey", { apiId: disabling });
  const bystander = await s.ok("keys.createKey", { apiId: revoking });
  const r = await report([match(a.key), match(b.key), match("hd_" + "A".repeat(49)), match("not a key")]);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body, { received: 4 });
  assert.equal(await verify(a.key), "NOT_FOUND");
  assert.equal(await verify(b.key), "DISABLED");
  assert.equal(await verify(bystander.key), "VALID");
  const got = await s.ok("keys.getKey", { keyId: a.keyId });
  assert.equal(got.revocationReason,
    "leaked: reported by a code host (content): https://github.com/acme/app/blob/0a1b2c/config.yml");
  const alerts = await s.ok("alerts.list", { kind: "key.leaked" });
  assert.ok(alerts.some((x) => x.keyId === a.keyId));
  assert.ok(alerts.some((x) => x.keyId === b.keyId));
  const events = await s.ok("audit.listEvents", { target: a.keyId });
  assert.ok(events.some((e) => e.action === "key.leak_reported"));
  // The same report again (a replay, or a retry): the same answer, and it is not acted on again.
  const leakEntries = async () =>
    (await s.ok("audit.listEvents", { action: "key.leak_reported", limit: 1000 })).length;
  const before = await leakEntries();
  const again = await report([match(a.key), match(b.key), match("hd_" + "A".repeat(49)), match("not a key")]);
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.body, { received: 4 });
  assert.equal(await leakEntries(), before);
});

test("unsigned, wrongly signed and malformed reports change nothing", async () => {
  const k = await s.ok("keys.createKey", { apiId: revoking });
  const stranger = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const body = [match(k.key)];
  const refused = [
    await report(body, { by: stranger }),
    await report(body, { id: "host-2" }),
    await report(body, { signature: "" }),
    await report(body, { signature: "bm90IGEgc2lnbmF0dXJl" }),
  ];
  for (const r of refused) {
    assert.equal(r.status, 401, r.text);
    assert.ok(!r.text.includes(k.key));
  }
  // A signature over one body does not cover another.
  const other = await s.ok("keys.createKey", { apiId: revoking });
  const sig = crypto.sign("sha256", Buffer.from(JSON.stringify([match(other.key)])), host.privateKey)
    .toString("base64");
  assert.equal((await report(body, { signature: sig })).status, 401);
  for (const bad of ["{}", "not json", `[${JSON.stringify(match(k.key))}, 7]`,
    `[${JSON.stringify(match(k.key))}, {"type":"x"}]`, "[".repeat(100)]) {
    const r = await report(bad);
    assert.equal(r.status, 400, bad.slice(0, 30));
    assert.ok(!r.text.includes(k.key));
  }
  const many = Array.from({ length: 1001 }, () => match("hd_x"));
  many[0] = match(k.key);
  assert.equal((await report(many)).status, 413);
  const get = await fetch(`${s.url}/leak-reports`);
  assert.equal(get.status, 405);
  assert.equal(await verify(k.key), "VALID");
  assert.equal(await verify(other.key), "VALID");
});

test("a rotated public key is taken up from the file without a restart", async () => {
  const next = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const k = await s.ok("keys.createKey", { apiId: revoking });
  assert.equal((await report([match(k.key)], { by: next, id: "host-2" })).status, 401);
  writeKeys([["host-1", host], ["host-2", next]]);
  await eventually(async () => {
    assert.equal((await report([match(k.key)], { by: next, id: "host-2" })).status, 200);
  });
  assert.equal(await verify(k.key), "NOT_FOUND");
});

test("without leak_report_keys the endpoint is not served, and a bad keys file stops the start", async () => {
  const plain = await new Server().start();
  try {
    const r = await fetch(`${plain.url}/leak-reports`, { method: "POST", body: "[]" });
    assert.equal(r.status, 404);
  } finally {
    await plain.stop();
  }
  const bad = path.join(tempDir("leaks"), "keys.json");
  fs.writeFileSync(bad, JSON.stringify({ public_keys: [{ key_identifier: "x", key: "not pem" }] }));
  const r = await cli(["serve", "--data-dir", path.join(tempDir("leaks"), "d"), "--listen",
    "127.0.0.1:0", "--leak-report-keys", bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /leak_report_keys: .*public_keys\[0\]: not a PEM public key/);
});

function git(dir, ...args) {
  return execFileSync("git", ["-C", dir, ...args], {
    env: { ...process.env, GIT_AUTHOR_NAME: "dev", GIT_AUTHOR_EMAIL: "dev@example.com",
      GIT_COMMITTER_NAME: "dev", GIT_COMMITTER_EMAIL: "dev@example.com" },
  }).toString().trim();
}

test("scan --revoke reports each keyhold key found in history, and says what was done", async () => {
  const live = await s.ok("keys.createKey", { apiId: revoking, prefix: "hd" });
  const muted = await s.ok("keys.createKey", { apiId: disabling, prefix: "mail" });
  const repo = tempDir("leaky-repo");
  git(repo, "init", "-q");
  fs.writeFileSync(path.join(repo, "config.env"), `HELPDESK_KEY=${live.key}\n`);
  fs.writeFileSync(path.join(repo, "mail.yml"), `api_key: "${muted.key}"\nother: "${live.key}"\n`);
  git(repo, "add", ".");
  git(repo, "commit", "-q", "-m", "config");
  const commit = git(repo, "rev-parse", "HEAD");
  const r = await cli(["scan", "--git", "--repo", repo, "--revoke", "--format", "json"], { env });
  assert.equal(r.code, 1, r.stderr);
  for (const out of [r.stdout, r.stderr]) {
    assert.ok(!out.includes(live.key) && !out.includes(muted.key), "a key was printed");
  }
  const findings = JSON.parse(r.stdout).filter((f) => f.kind === "keyhold-key");
  assert.equal(findings.length, 3, r.stdout);
  const at = (p, line) => findings.find((f) => f.path === p && f.line === line);
  assert.equal(at("config.env", 1).leakAction, "revoked");
  assert.equal(at("mail.yml", 1).leakAction, "disabled");
  assert.equal(at("mail.yml", 2).leakAction, "revoked"); // reported once, shown on both
  assert.match(r.stderr, /reported 2 keyhold key\(s\) to .*: 1 revoked, 1 disabled, 0 not acted on/);
  assert.equal(await verify(live.key), "NOT_FOUND");
  assert.equal(await verify(muted.key), "DISABLED");
  const got = await s.ok("keys.getKey", { keyId: live.keyId });
  assert.match(got.revocationReason, new RegExp(`^leaked: keyhold scan: (config\\.env:1|mail\\.yml:2)@${commit.slice(0, 12)}$`));

  // Again: nothing left to do, and the text report says so.
  const again = await cli(["scan", "--git", "--repo", repo, "--revoke"], { env });
  assert.equal(again.code, 1);
  assert.match(again.stdout, /reported leaked: nothing done/);
});

test("scan --revoke keeps a path that holds a key out of what the server records", async () => {
  const found = await s.ok("keys.createKey", { apiId: revoking });
  const named = await s.ok("keys.createKey", { apiId: revoking });
  const dir = tempDir("leaky-names");
  fs.writeFileSync(path.join(dir, `notes_${named.key}.txt`), `token: ${found.key}\n`);
  const r = await cli(["scan", dir, "--revoke", "--format", "json"], { env });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(await verify(found.key), "NOT_FOUND");
  const got = await s.ok("keys.getKey", { keyId: found.keyId });
  assert.match(got.revocationReason, /^leaked: keyhold scan: a scanned file:1$/);
  const events = JSON.stringify(await s.ok("audit.listEvents", { target: found.keyId }));
  assert.ok(!events.includes(named.key), "a key from a file name reached the audit log");
});

test("scan --revoke needs a token before scanning, and exits 2 when the server cannot be reached", async () => {
  const k = await s.ok("keys.createKey", { apiId: revoking });
  const dir = tempDir("leaky-dir");
  fs.writeFileSync(path.join(dir, "app.env"), `KEY=${k.key}\n`);
  const noToken = await cli(["scan", dir, "--revoke"], { env: { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: "" } });
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /--revoke: .*KEYHOLD_TOKEN/);
  assert.equal(noToken.stdout, "");
  const away = await cli(["scan", dir, "--revoke", "--format", "json"],
    { env: { KEYHOLD_ADDR: "http://127.0.0.1:9", KEYHOLD_TOKEN: s.rootKey } });
  assert.equal(away.code, 2);
  const f = JSON.parse(away.stdout);
  assert.equal(f[0].leakAction, "failed");
  assert.ok(!away.stdout.includes(k.key) && !away.stderr.includes(k.key));
  assert.equal(await verify(k.key), "VALID");
  // Without --revoke nothing is reported.
  const plain = await cli(["scan", dir, "--format", "json"], { env });
  assert.equal(plain.code, 1);
  assert.equal(JSON.parse(plain.stdout)[0].leakAction, undefined);
  assert.equal(await verify(k.key), "VALID");
});

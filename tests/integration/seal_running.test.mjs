// Sealing a running server (PUT /v1/sys/seal, `keyhold operator seal`): secrets answer 503 while
// keys still verify, shares unseal it again as at start, sealing twice changes nothing, the call
// needs `secret.seal`, and a server whose master key is not split refuses. Requests under way
// and a re-wrap of the keyring either end or are answered 503; nothing crashes.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Server, cli, tempDir, eventually, vaultRequest as v1 } from "../lib/keyhold.mjs";

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

// A sealed data directory (2 of 3 shares), served and unsealed; `s.shares` holds the shares.
async function sealedServer(args = []) {
  const dataDir = path.join(tempDir(), "data");
  const init = await cli(["operator", "init-shares", "--data-dir", dataDir, "--shares", "3", "--threshold", "2", "--json"]);
  assert.equal(init.code, 0, init.stderr);
  const out = JSON.parse(init.stdout);
  allShares.push(...out.unseal_keys_b64);
  const s = new Server({ dataDir, args });
  servers.push(s);
  await s.start();
  s.rootKey = out.rootKey;
  s.shares = out.unseal_keys_b64;
  await unseal(s, [s.shares[0], s.shares[1]]);
  return s;
}

async function unseal(s, shares) {
  const u = await cli(["operator", "unseal"], { env: { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: "" }, input: shares.join("\n") + "\n" });
  assert.equal(u.code, 0, u.stderr);
  assert.equal(u.stdout, "unsealed\n");
}

test("a running server seals: secrets 503, keys verify, shares unseal it again", async () => {
  const s = await sealedServer();
  assert.equal((await v1(s, "POST", "secret/data/app/db", { data: { password: "before-seal" } })).status, 200);
  const { apiId } = await s.ok("apis.createApi", { name: "seal" });
  const { key } = await s.ok("keys.createKey", { apiId });

  // Only a token holding secret.seal may seal; others get Vault's 403 and nothing changes.
  const reader = await s.ok("rootKeys.createRootKey", { name: "reader", permissions: ["secret.read", "secret.rotate"] });
  for (const token of [reader.key, null, "khr_not_a_key"]) {
    const r = await v1(s, "PUT", "sys/seal", undefined, token);
    assert.equal(r.status, 403);
    assert.deepEqual(r.body, { errors: ["permission denied"] });
  }
  assert.equal((await v1(s, "GET", "secret/data/app/db")).status, 200);
  assert.equal((await v1(s, "GET", "sys/seal", undefined)).status, 405);

  const sealer = await s.ok("rootKeys.createRootKey", { name: "sealer", permissions: ["secret.seal"] });
  const sealed = await cli(["operator", "seal"], { env: { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: sealer.key } });
  assert.equal(sealed.code, 0, sealed.stderr);
  assert.equal(sealed.stdout, "sealed\n");

  let r = await v1(s, "GET", "secret/data/app/db");
  assert.equal(r.status, 503);
  assert.deepEqual(r.body, { errors: ["Vault is sealed"] });
  assert.equal((await v1(s, "POST", "secret/data/app/db", { data: { password: "x" } })).status, 503);
  assert.equal((await v1(s, "POST", "sys/rotate", {})).status, 503);
  r = await s.call("secrets.listDue", {});
  assert.equal(r.status, 503, r.text);
  assert.match(r.body.error.detail, /sealed/);
  r = await v1(s, "GET", "sys/health", undefined, null);
  assert.deepEqual([r.status, r.body.sealed], [503, true]);
  r = await v1(s, "GET", "sys/seal-status", undefined, null);
  assert.deepEqual([r.body.sealed, r.body.t, r.body.n, r.body.progress], [true, 2, 3, 0]);
  assert.match(await (await fetch(`${s.url}/metrics`)).text(), /^keyhold_sealed 1$/m);
  // Keys verify as before.
  assert.equal((await s.ok("keys.verifyKey", { key })).valid, true);
  // Webhook signing secrets need the key again.
  r = await s.call("webhooks.createEndpoint", { url: "https://example.com/hook" });
  assert.equal(r.status, 503, r.text);

  // Sealing again is 204 and changes nothing (as Vault); the permission is still checked.
  assert.equal((await v1(s, "PUT", "sys/seal", undefined)).status, 204);
  assert.equal((await v1(s, "POST", "sys/seal", undefined, sealer.key)).status, 204);
  assert.equal((await v1(s, "PUT", "sys/seal", undefined, reader.key)).status, 403);

  // Other shares than before unseal it, as at start.
  await unseal(s, [s.shares[2], s.shares[0]]);
  r = await v1(s, "GET", "secret/data/app/db");
  assert.equal(r.status, 200);
  assert.equal(r.body.data.data.password, "before-seal");
  assert.equal((await v1(s, "POST", "secret/data/app/db", { data: { password: "after-unseal" } })).status, 200);
  assert.equal((await v1(s, "GET", "sys/health", undefined, null)).status, 200);
  assert.match(await (await fetch(`${s.url}/metrics`)).text(), /^keyhold_sealed 0$/m);

  // The seal is audited once, naming who sealed; the audit holds no share.
  const events = (await s.ok("audit.listEvents", { action: "seal.seal", limit: 10 }));
  assert.equal(events.length, 1, JSON.stringify(events));
  assert.equal(events[0].actor, sealer.keyId, JSON.stringify(events[0]));
  assert.equal(events[0].outcome, "success");
  const text = JSON.stringify(await s.ok("audit.listEvents", { action: "seal.*", limit: 100 }));
  for (const share of s.shares) assert.equal(text.includes(share), false);
  assert.match(s.stderr, /sealing: requested by root key/);
});

test("requests under way and a keyring re-wrap end or answer 503 while the server seals", async () => {
  const s = await sealedServer();
  const n = 150;
  for (let i = 0; i < n; i += 15) {
    await Promise.all(Array.from({ length: 15 }, (_, j) =>
      v1(s, "POST", `secret/data/many/s${i + j}`, { data: { v: `value-${i + j}` } })));
  }
  // A new keyring term: every data key is re-wrapped in the background, as the server seals.
  assert.equal((await v1(s, "POST", "sys/rotate", {})).status, 204);
  let stop = false;
  const statuses = new Map();
  const readers = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const r = await v1(s, "GET", `secret/data/many/s${(i * 8 + w) % n}`);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status === 200) assert.equal(r.body.data.data.v, `value-${(i * 8 + w) % n}`);
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal((await v1(s, "PUT", "sys/seal", undefined)).status, 204);
  await new Promise((resolve) => setTimeout(resolve, 150));
  stop = true;
  await Promise.all(readers);
  assert.deepEqual([...statuses.keys()].filter((k) => k !== 200 && k !== 503), [], JSON.stringify([...statuses]));
  assert.ok(statuses.get(503) > 0, "reads after the seal are refused");
  assert.equal(s.proc.exitCode, null, "the server still runs");

  await unseal(s, [s.shares[1], s.shares[2]]);
  for (let i = 0; i < n; i += 30) {
    const r = await v1(s, "GET", `secret/data/many/s${i}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.data.data.v, `value-${i}`);
  }
});

test("a rotation step under way when the server seals is ended and recorded as interrupted", async () => {
  const d = tempDir("seal-rotation");
  const script = path.join(d, "rotate.sh");
  fs.writeFileSync(script, `#!/bin/sh
set -eu
body='{"mount":"'"$KEYHOLD_SECRET_MOUNT"'","path":"'"$KEYHOLD_SECRET_PATH"'"'
case "$1" in
  create)
    curl -sf -H "Authorization: Bearer $KEYHOLD_TOKEN" -H 'content-type: application/json' \\
      -d "$body"',"data":{"password":"pending"}}' "$KEYHOLD_ADDR/v2/secrets.putPendingValue" >/dev/null
    ;;
  set)
    echo $$ > '${d}/set.pid'
    while :; do sleep 0.1; done
    ;;
  *) ;;
esac
`);
  fs.chmodSync(script, 0o700);
  const s = await sealedServer(["--secret-rotation-command", script]);
  assert.equal((await v1(s, "POST", "secret/data/db/pw", { data: { password: "current" } })).status, 200);
  assert.equal((await s.call("secrets.rotate", { path: "db/pw" })).status, 202);
  const pidFile = path.join(d, "set.pid");
  await eventually(() => assert.ok(fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim()), 10000);
  const pid = Number(fs.readFileSync(pidFile, "utf8").trim());

  assert.equal((await v1(s, "PUT", "sys/seal", undefined)).status, 204);
  assert.throws(() => process.kill(pid, 0), /ESRCH/, "the step's command was ended");
  assert.equal((await s.call("secrets.getRotation", { path: "db/pw" })).status, 503);

  await unseal(s, [s.shares[0], s.shares[2]]);
  const state = await s.ok("secrets.getRotation", { path: "db/pw" });
  assert.equal(state.running, false);
  assert.deepEqual([state.lastOutcome.result, state.lastOutcome.step], ["interrupted", "set"], JSON.stringify(state));
  assert.match(state.lastOutcome.error, /the server was sealed; rotate again once it is unsealed to retry/);
  const r = await v1(s, "GET", "secret/data/db/pw");
  assert.equal(r.body.data.data.password, "current");
});

test("during a slow seal seal-status answers at once, unseal 503, and a SIGTERM exits cleanly", async () => {
  const d = tempDir("seal-slow");
  const script = path.join(d, "rotate.sh");
  // set ignores SIGTERM: the seal waits the stop grace (2 s) before its SIGKILL.
  fs.writeFileSync(script, `#!/bin/sh
body='{"mount":"'"$KEYHOLD_SECRET_MOUNT"'","path":"'"$KEYHOLD_SECRET_PATH"'"'
case "$1" in
  create)
    curl -sf -H "Authorization: Bearer $KEYHOLD_TOKEN" -H 'content-type: application/json' \\
      -d "$body"',"data":{"password":"pending"}}' "$KEYHOLD_ADDR/v2/secrets.putPendingValue" >/dev/null
    ;;
  set)
    trap '' TERM
    echo $$ > '${d}/set.pid'
    while :; do sleep 0.1; done
    ;;
  *) ;;
esac
`);
  fs.chmodSync(script, 0o700);
  const s = await sealedServer(["--secret-rotation-command", script]);
  assert.equal((await v1(s, "POST", "secret/data/db/pw", { data: { password: "current" } })).status, 200);
  assert.equal((await s.call("secrets.rotate", { path: "db/pw" })).status, 202);
  const pidFile = path.join(d, "set.pid");
  await eventually(() => assert.ok(fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim()), 10000);

  const sealing = v1(s, "PUT", "sys/seal", undefined);
  await new Promise((r) => setTimeout(r, 300));
  const asked = Date.now();
  const status = await v1(s, "GET", "sys/seal-status", undefined, "");
  assert.ok(Date.now() - asked < 1000, "seal-status waited for the seal");
  assert.equal(status.body.sealed, true);
  assert.equal((await v1(s, "PUT", "sys/unseal", { key: s.shares[0] }, "")).status, 503);
  const exited = await s.stop("SIGTERM");  // while the seal still runs
  assert.equal((await sealing).status, 204);
  assert.equal(exited.code, 0, s.stderr);
  assert.equal(exited.signal, null);
});

test("a server whose master key is not split refuses to seal, and says why", async () => {
  const s = new Server();
  servers.push(s);
  await s.start();
  const reader = await s.ok("rootKeys.createRootKey", { name: "reader", permissions: ["secret.read"] });
  assert.equal((await v1(s, "PUT", "sys/seal", undefined, reader.key)).status, 403);
  const r = await v1(s, "PUT", "sys/seal", undefined);
  assert.equal(r.status, 400);
  assert.match(r.body.errors[0], /cannot be sealed: its master key comes from a key file.*init-shares/);
  const c = await cli(["operator", "seal"], { env: { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: s.rootKey } });
  assert.equal(c.code, 1);
  assert.match(c.stderr, /400: this server cannot be sealed/);
  assert.equal((await v1(s, "POST", "secret/data/still", { data: { open: "yes" } })).status, 200);
  assert.equal((await v1(s, "GET", "sys/seal-status", undefined, null)).body.sealed, false);
});

// Rotation of held secrets, what a restart must not forget and what one caller may not take: the
// last attempt's outcome is stored and shown after a restart; a stop ends a webhook step that
// hangs and records it as interrupted; a kill -9 under a running or queued rotation is shown as
// interrupted after the restart, and leaves no command running, nor (once restarted) anything the
// command started; one key may have only so many rotations queued.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Server, cli, tempDir, eventually } from "../lib/keyhold.mjs";

// A rotation command whose set fails while the file `fail-set` exists, and waits while `slow-set`
// does; the provider is a file.
function command(dir) {
  const script = path.join(dir, "rotate.sh");
  fs.writeFileSync(
    script,
    `#!/bin/sh
set -eu
dir='${dir}'
body='{"mount":"'"$KEYHOLD_SECRET_MOUNT"'","path":"'"$KEYHOLD_SECRET_PATH"'"'
case "$1" in
  create)
    curl -sf -H "Authorization: Bearer $KEYHOLD_TOKEN" -H 'content-type: application/json' \\
      -d "$body"',"data":{"password":"pending-value-'"$$"'"}}' "$KEYHOLD_ADDR/v2/secrets.putPendingValue" >/dev/null
    ;;
  set)
    [ ! -e "$dir/fail-set" ] || exit 4
    echo $$ > "$dir/set-$KEYHOLD_SECRET_MOUNT-$(echo "$KEYHOLD_SECRET_PATH" | tr / -).pid"
    while [ -e "$dir/slow-set" ]; do sleep 0.1; done
    ;;
  test) ;;
  *) exit 9 ;;
esac
`,
  );
  fs.chmodSync(script, 0o700);
  return script;
}

async function put(s, p, data) {
  const r = await fetch(`${s.url}/v1/secret/data/${p}`, {
    method: "POST",
    headers: { "x-vault-token": s.rootKey, "content-type": "application/json" },
    body: JSON.stringify({ data }),
  });
  assert.equal(r.status, 200, await r.text());
}

async function settled(s, p) {
  let state;
  await eventually(async () => {
    state = await s.ok("secrets.getRotation", { path: p });
    assert.equal(state.running, false);
  }, 15000);
  return state;
}

test("the last attempt's outcome is stored, without a value, and shown after a restart", async () => {
  const d = tempDir("rotation-outcome");
  const args = ["--secret-rotation-command", command(d)];
  fs.writeFileSync(path.join(d, "fail-set"), "");
  const first = await new Server({ args }).start();
  let pendingValue;
  try {
    await put(first, "db/flaky", { password: "first-password" });
    const meta = await fetch(`${first.url}/v1/secret/metadata/db/flaky`, {
      method: "POST",
      headers: { "x-vault-token": first.rootKey, "content-type": "application/json" },
      body: JSON.stringify({ rotation_period: "1s" }),
    });
    assert.equal(meta.status, 204);
    const before = Date.now();
    assert.equal((await first.call("secrets.rotate", { path: "db/flaky" })).status, 202);
    const state = await settled(first, "db/flaky");
    assert.equal(state.lastOutcome.result, "failed", JSON.stringify(state));
    assert.equal(state.lastOutcome.step, "set");
    assert.equal(state.lastOutcome.error, "the command exited with status 4");
    assert.ok(state.lastOutcome.at >= before && state.lastOutcome.at <= Date.now());
    const pending = await first.ok("secrets.getStageValue", { path: "db/flaky", stage: "pending" });
    pendingValue = pending.data.password;
    assert.match(pendingValue, /^pending-value-/);
    assert.equal(JSON.stringify(state).includes(pendingValue), false);
  } finally {
    await first.stop();
  }

  const again = new Server({ dataDir: first.dataDir, args });
  await again.start();
  again.rootKey = first.rootKey;
  try {
    const env = { KEYHOLD_ADDR: again.url, KEYHOLD_TOKEN: again.rootKey };
    const state = await again.ok("secrets.getRotation", { path: "db/flaky" });
    assert.equal(state.lastOutcome.result, "failed", JSON.stringify(state));
    assert.equal(state.lastOutcome.step, "set");
    let r = await cli(["secrets", "rotate", "secret/db/flaky", "--status"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /last attempt: failed at step set, \d{4}-\d\d-\d\dT\d\d:\d\dZ: the command exited with status 4\n/);
    await eventually(async () => {
      const due = await again.ok("secrets.listDue", { within: 0 });
      assert.equal(due.length, 1);
      assert.equal(due[0].lastOutcome.result, "failed");
    });
    r = await cli(["secrets", "due", "--within", "0"], { env });
    assert.match(r.stdout, /^secret\/db\/flaky {2}OVERDUE .*\(last attempt failed at step set, .*status 4\)\n$/);
    // The retry finishes, and says so.
    fs.rmSync(path.join(d, "fail-set"));
    r = await cli(["secrets", "rotate", "secret/db/flaky"], { env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /last attempt: finished, /);
    const done = await again.ok("secrets.getRotation", { path: "db/flaky" });
    assert.equal(done.lastOutcome.result, "finished");
    assert.equal(done.lastOutcome.step, null);
    assert.equal(done.lastOutcome.error, null);
  } finally {
    await again.stop();
  }
  for (const log of [first.stderr, again.stderr]) {
    assert.equal(log.includes(pendingValue), false, "a value was logged");
  }
});

test("a stop ends a webhook step that is never answered, recorded as interrupted, and a restart retries it", async () => {
  const http = await import("node:http");
  const crypto = await import("node:crypto");
  const d = tempDir("rotation-webhook-stop");
  const secretFile = path.join(d, "webhook.secret");
  fs.writeFileSync(secretFile, `whsec_${crypto.randomBytes(24).toString("base64")}\n`, { mode: 0o600 });
  const seen = [];
  let hang = true;
  const hanging = new Set();
  const receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", async () => {
      const { step, mount, path: p, keyholdAddr, token } = JSON.parse(body).data;
      seen.push(step);
      if (step === "create") {
        const put = await fetch(`${keyholdAddr}/v2/secrets.putPendingValue`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ mount, path: p, data: { password: "webhook-pending" } }),
        });
        res.writeHead(put.status).end();
      } else if (step === "set" && hang) {
        hanging.add(res);  // never answered
      } else {
        res.writeHead(200).end();
      }
    });
  });
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const args = ["--secret-rotation-webhook", `http://127.0.0.1:${receiver.address().port}/rotate`,
    "--secret-rotation-webhook-secret-file", secretFile, "--webhook-allow-private-networks", "true",
    "--secret-rotation-timeout", "60s"];
  const first = await new Server({ args }).start();
  let again;
  try {
    await put(first, "api/hook", { password: "first-password" });
    assert.equal((await first.call("secrets.rotate", { path: "api/hook" })).status, 202);
    await eventually(() => assert.deepEqual(seen, ["create", "set"]), 10000);

    const stopping = Date.now();
    const exit = await first.stop();
    assert.equal(exit.code, 0, first.stderr);
    // Well within the 10 s the server gives requests to drain, and far from the 60 s timeout.
    assert.ok(Date.now() - stopping < 8000, `stopping took ${Date.now() - stopping}ms`);
    const log = first.stderr;
    const at = log.indexOf("rotation of secret secret/api/hook interrupted: set: the webhook call was abandoned");
    assert.ok(at >= 0, log);
    assert.ok(at < log.search(/ stopped\r?\n?$/), log);

    hang = false;
    again = new Server({ dataDir: first.dataDir, args });
    await again.start();
    again.rootKey = first.rootKey;
    let state = await again.ok("secrets.getRotation", { path: "api/hook" });
    assert.equal(state.running, false);
    assert.equal(state.lastStep, "create", JSON.stringify(state));
    assert.equal(state.currentVersion, 1);
    assert.equal(state.lastOutcome.result, "interrupted");
    assert.equal(state.lastOutcome.step, "set");
    assert.match(state.lastOutcome.error, /abandoned as keyhold stopped; rotate again to retry/);
    // Retryable: set runs again, and the rotation finishes.
    assert.equal((await again.call("secrets.rotate", { path: "api/hook" })).status, 202);
    state = await settled(again, "api/hook");
    assert.equal(state.lastStep, "finish", JSON.stringify(state));
    assert.equal(state.currentVersion, 2);
    assert.deepEqual(seen, ["create", "set", "set", "test"]);
  } finally {
    await first.stop();
    if (again) await again.stop();
    for (const res of hanging) res.destroy();
    receiver.close();
  }
  assert.equal((first.stderr + (again?.stderr ?? "")).includes("webhook-pending"), false, "a value was logged");
});

test("one root key may have only so many rotations queued or running: 429 past that", async () => {
  const d = tempDir("rotation-per-key");
  fs.writeFileSync(path.join(d, "slow-set"), "");
  const s = await new Server({
    args: ["--secret-rotation-command", command(d), "--secret-rotation-per-key-limit", "2"],
  }).start();
  try {
    for (const p of ["q/a", "q/b", "q/c", "q/d"]) await put(s, p, { password: "first-password" });
    for (const p of ["q/a", "q/b"]) {
      assert.equal((await s.call("secrets.rotate", { path: p })).status, 202);
    }
    const over = await s.call("secrets.rotate", { path: "q/c" });
    assert.equal(over.status, 429, over.text);
    assert.match(over.body.error.type, /rotation\/caller_limit$/);
    assert.equal(over.body.error.detail,
      "this key has 2 rotations queued or running, the most one key may have; try again when one has ended");
    assert.equal(over.headers.get("retry-after"), "5");
    assert.equal((await s.ok("secrets.getRotation", { path: "q/c" })).running, false);
    const cliEnv = { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: s.rootKey };
    const r = await cli(["secrets", "rotate", "secret/q/c"], { env: cliEnv });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /this key has 2 rotations queued or running/);
    // Another key still has its places.
    const other = await s.ok("rootKeys.createRootKey", { permissions: ["secret.rotate:secret/q/*"] });
    assert.equal((await s.call("secrets.rotate", { path: "q/c" }, other.key)).status, 202);
    // Once the rotations end, the first key may start again.
    fs.rmSync(path.join(d, "slow-set"));
    for (const p of ["q/a", "q/b", "q/c"]) assert.equal((await settled(s, p)).lastStep, "finish");
    assert.equal((await s.call("secrets.rotate", { path: "q/d" })).status, 202);
    assert.equal((await settled(s, "q/d")).lastStep, "finish");
  } finally {
    await s.stop();
  }
});

// Whether process `pid` is gone (or a zombie its new parent has yet to reap).
function gone(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true;
  }
}

test("after a kill -9, running and queued rotations are shown as interrupted, and none is resumed", async () => {
  const d = tempDir("rotation-killed");
  const args = ["--secret-rotation-command", command(d)];
  fs.writeFileSync(path.join(d, "slow-set"), "");
  const first = await new Server({ args }).start();
  const paths = ["k/a", "k/b", "k/c"];
  let setPids;
  let before;
  try {
    for (const p of paths) await put(first, p, { password: "first-password" });
    const meta = await fetch(`${first.url}/v1/secret/metadata/k/a`, {
      method: "POST",
      headers: { "x-vault-token": first.rootKey, "content-type": "application/json" },
      body: JSON.stringify({ rotation_period: "1s" }),
    });
    assert.equal(meta.status, 204);
    before = Date.now();
    // Two workers: a and b reach set and wait there; c stays queued.
    for (const p of paths) assert.equal((await first.call("secrets.rotate", { path: p })).status, 202);
    setPids = ["a", "b"].map((n) => path.join(d, `set-secret-k-${n}.pid`));
    await eventually(() => setPids.forEach((f) => assert.ok(fs.existsSync(f))), 10000);
    assert.equal((await first.ok("secrets.getRotation", { path: "k/c" })).running, true);
    const killed = await first.stop("SIGKILL");
    assert.equal(killed.signal, "SIGKILL");
  } finally {
    await first.stop();
  }
  // The commands died with keyhold.
  for (const f of setPids) {
    const pid = Number(fs.readFileSync(f, "utf8"));
    await eventually(() => assert.ok(gone(pid), `command ${pid} still runs`), 5000);
  }

  fs.rmSync(path.join(d, "slow-set"));
  const again = new Server({ dataDir: first.dataDir, args });
  await again.start();
  again.rootKey = first.rootKey;
  try {
    const env = { KEYHOLD_ADDR: again.url, KEYHOLD_TOKEN: again.rootKey };
    const a = await again.ok("secrets.getRotation", { path: "k/a" });
    assert.equal(a.running, false);
    assert.equal(a.currentVersion, 1);
    assert.equal(a.lastOutcome.result, "interrupted", JSON.stringify(a));
    assert.equal(a.lastOutcome.step, "set");
    // The command's last `sleep 0.1` may outlive it by a moment: if it is still there at the
    // restart, it is killed and counted.
    assert.match(a.lastOutcome.error,
      /^keyhold stopped while step 'set' ran, before it ended; rotate again to retry it(; 1 process its command left running was stopped)?$/);
    assert.ok(a.lastOutcome.at >= before, JSON.stringify(a));
    const c = await again.ok("secrets.getRotation", { path: "k/c" });
    assert.equal(c.running, false);
    assert.equal(c.pendingVersion, null);
    assert.equal(c.lastOutcome.result, "interrupted", JSON.stringify(c));
    assert.equal(c.lastOutcome.step, null);
    assert.equal(c.lastOutcome.error, "keyhold stopped before the rotation ran; rotate again to run it");
    assert.match(again.stderr, /rotation of secret secret\/k\/c interrupted: keyhold stopped while it was queued/);
    // Not resumed on its own.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await again.ok("secrets.getRotation", { path: "k/a" })).lastStep, "create");

    let r = await cli(["secrets", "rotate", "secret/k/a", "--status"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /last attempt: interrupted at step set, \d{4}-\d\d-\d\dT\d\d:\d\dZ: keyhold stopped while step 'set' ran/);
    let due;
    await eventually(async () => {
      due = await again.ok("secrets.listDue", { within: 0 });
      assert.equal(due.length, 1);
    });
    assert.equal(due[0].rotating, true);
    assert.equal(due[0].running, false);
    assert.equal(due[0].lastOutcome.result, "interrupted");
    r = await cli(["secrets", "due", "--within", "0"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /under way/);
    assert.match(r.stdout, /^secret\/k\/a {2}OVERDUE .* \(rotation interrupted, not running: retry with 'keyhold secrets rotate secret\/k\/a', or drop it with 'keyhold secrets rotate secret\/k\/a --cancel --force'\) {2}\(last attempt interrupted at step set, /);
    // Retried, each picks up where it was and finishes.
    for (const p of paths) {
      r = await cli(["secrets", "rotate", `secret/${p}`], { env });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const done = await again.ok("secrets.getRotation", { path: p });
      assert.equal(done.lastStep, "finish", JSON.stringify(done));
      assert.equal(done.currentVersion, 2);
    }
  } finally {
    await again.stop();
  }
});

test("what a command started is killed at the restart after a kill -9, and the outcome says so", async () => {
  const d = tempDir("rotation-orphans");
  const script = path.join(d, "rotate.sh");
  // set starts a background child (as a provider's CLI may) and one in a session of its own
  // (setsid), and waits; both outlive the command, which dies with keyhold.
  fs.writeFileSync(script, `#!/bin/sh
set -eu
body='{"mount":"'"$KEYHOLD_SECRET_MOUNT"'","path":"'"$KEYHOLD_SECRET_PATH"'"'
case "$1" in
  create)
    curl -sf -H "Authorization: Bearer $KEYHOLD_TOKEN" -H 'content-type: application/json' \\
      -d "$body"',"data":{"password":"pending"}}' "$KEYHOLD_ADDR/v2/secrets.putPendingValue" >/dev/null
    ;;
  set)
    setsid sleep 600 &
    echo $! > '${d}/session.pid'
    sleep 600 &
    echo $! > '${d}/child.tmp'
    mv '${d}/child.tmp' '${d}/child.pid'
    exec sleep 600
    ;;
  *) ;;
esac
`);
  fs.chmodSync(script, 0o700);
  const args = ["--secret-rotation-command", script];
  const first = await new Server({ args }).start();
  const childFile = path.join(d, "child.pid");
  let child;
  let inSession;
  try {
    await put(first, "orphan/db", { password: "first-password" });
    assert.equal((await first.call("secrets.rotate", { path: "orphan/db" })).status, 202);
    await eventually(() => assert.ok(fs.existsSync(childFile)), 10000);
    child = Number(fs.readFileSync(childFile, "utf8"));
    inSession = Number(fs.readFileSync(path.join(d, "session.pid"), "utf8"));
    assert.equal((await first.stop("SIGKILL")).signal, "SIGKILL");
  } finally {
    await first.stop();
  }
  // keyhold's death ended the command, not what it started.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(gone(child), false, "the command's child runs on after the kill");
  assert.equal(gone(inSession), false, "the child out of its group runs on after the kill");

  const again = new Server({ dataDir: first.dataDir, args });
  await again.start();
  again.rootKey = first.rootKey;
  try {
    await eventually(() => assert.ok(gone(child), `child ${child} still runs`), 5000);
    await eventually(() => assert.ok(gone(inSession), `child ${inSession} still runs`), 5000);
    const state = await again.ok("secrets.getRotation", { path: "orphan/db" });
    assert.equal(state.lastOutcome.result, "interrupted", JSON.stringify(state));
    assert.equal(state.lastOutcome.step, "set");
    assert.equal(state.lastOutcome.error,
      "keyhold stopped while step 'set' ran, before it ended; rotate again to retry it; 2 processes its command left running were stopped");
    assert.match(again.stderr, /2 process\(es\) its command left running were killed/);
  } finally {
    await again.stop();
    if (!gone(child)) process.kill(child, "SIGKILL");
    if (!gone(inSession)) process.kill(inSession, "SIGKILL");
  }
});

test("a rotation paused after one step is staged and waiting after a restart, never interrupted", async () => {
  const d = tempDir("rotation-paused");
  const args = ["--secret-rotation-command", command(d)];
  const first = await new Server({ args }).start();
  try {
    await put(first, "k/p", { password: "first-password" });
    const meta = await fetch(`${first.url}/v1/secret/metadata/k/p`, {
      method: "POST",
      headers: { "x-vault-token": first.rootKey, "content-type": "application/json" },
      body: JSON.stringify({ rotation_period: "1s" }),
    });
    assert.equal(meta.status, 204);
    const env = { KEYHOLD_ADDR: first.url, KEYHOLD_TOKEN: first.rootKey };
    const r = await cli(["secrets", "rotate", "secret/k/p", "--step", "create"], { env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  } finally {
    await first.stop();
  }
  const again = new Server({ dataDir: first.dataDir, args });
  await again.start();
  again.rootKey = first.rootKey;
  try {
    const env = { KEYHOLD_ADDR: again.url, KEYHOLD_TOKEN: again.rootKey };
    const state = await again.ok("secrets.getRotation", { path: "k/p" });
    assert.equal(state.lastOutcome, null, JSON.stringify(state));
    assert.equal(state.failure, null, JSON.stringify(state));
    assert.doesNotMatch(again.stderr, /interrupted/);
    let due;
    await eventually(async () => {
      due = await again.ok("secrets.listDue", { within: 0 });
      assert.equal(due.length, 1);
    });
    assert.equal(due[0].rotating, true);
    assert.equal(due[0].stagedStep, "set");
    assert.equal(due[0].cancelNeedsForce, false);
    const r = await cli(["secrets", "due", "--within", "0"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^secret\/k\/p {2}OVERDUE .* \(rotation staged at step set, waiting: continue with 'keyhold secrets rotate secret\/k\/p', or drop it with 'keyhold secrets rotate secret\/k\/p --cancel'\)\n$/);
  } finally {
    await again.stop();
  }
});

// Rotation of held secrets over HTTP: a real rotation command (a shell script using the token it
// is given) rotates a secret end to end; a failing command leaves the current value and is
// retried; due secrets are listed and raise alerts. No value in logs, audit entries or argv.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Server, cli, tempDir, eventually } from "../lib/keyhold.mjs";

let s;
let env;
const dir = tempDir("rotation");
const script = path.join(dir, "rotate.sh");

// The provider is a file; the command keeps a log of its calls (never a value) beside it.
fs.writeFileSync(
  script,
  `#!/bin/sh
set -eu
dir='${dir}'
echo "$* $#" >> "$dir/calls.log"
printf '%s' "$KEYHOLD_TOKEN" > "$dir/last-token"
call() {
  curl -s -w '\\n%{http_code}' -H "Authorization: Bearer $KEYHOLD_TOKEN" \\
    -H 'content-type: application/json' -d "$2" "$KEYHOLD_ADDR/v2/secrets.$1"
}
value() { sed -n 's/.*"password":"\\([^"]*\\)".*/\\1/p'; }
body='{"mount":"'"$KEYHOLD_SECRET_MOUNT"'","path":"'"$KEYHOLD_SECRET_PATH"'"'
case "$1" in
  create)
    n=$(cat "$dir/generation" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$dir/generation"
    call putPendingValue "$body"',"data":{"password":"rotated-'"$n"'"}}' | tail -n 1 | grep -qx 200
    ;;
  set)
    [ ! -e "$dir/fail-set" ] || exit 4
    call getStageValue "$body"',"stage":"pending"}' | value > "$dir/provider"
    # The token reaches this one path only.
    call getStageValue '{"path":"other/secret"}' | tail -n 1 > "$dir/other-status"
    ;;
  test)
    pending=$(call getStageValue "$body"',"stage":"pending"}' | value)
    [ "$pending" = "$(cat "$dir/provider")" ]
    ;;
  *) exit 9 ;;
esac
`,
);
fs.chmodSync(script, 0o700);

before(async () => {
  s = await new Server({
    args: ["--secret-rotation-command", script, "--rotation-sweep-interval", "100ms",
      "--secret-rotation-remind-before", "1h"],
  }).start();
  env = { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: s.rootKey };
});
after(async () => {
  await s.stop();
  for (const value of ["rotated-1", "rotated-2", "rotated-3", "first-password"]) {
    assert.equal(s.stderr.includes(value) || s.stdout.includes(value), false, "a value was logged");
  }
});

async function vault(method, p, body) {
  const res = await fetch(`${s.url}/v1/${p}`, {
    method,
    headers: { "x-vault-token": s.rootKey, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, text };
}

async function auditText() {
  const events = await s.ok("audit.listEvents", { limit: 1000 });
  return JSON.stringify(events);
}

test("a configured command rotates a secret end to end", async () => {
  await vault("POST", "secret/data/db/main", { data: { password: "first-password" } });
  await vault("POST", "secret/data/other/secret", { data: { password: "not-yours" } });
  const r = await cli(["secrets", "rotate", "secret/db/main"], { env });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /secret\/db\/main: current version 2, previous 1 \(rotated\)/);
  assert.equal(r.stdout.includes("rotated-1"), false);

  const current = await vault("GET", "secret/data/db/main");
  assert.equal(current.body.data.data.password, "rotated-1");
  assert.equal(current.body.data.metadata.version, 2);
  const previous = await vault("GET", "secret/data/db/main?keyhold_stage=previous");
  assert.equal(previous.body.data.data.password, "first-password");
  const meta = await vault("GET", "secret/metadata/db/main");
  assert.equal(meta.body.data.current_version, 2);
  assert.deepEqual(
    [meta.body.data.keyhold.current_version, meta.body.data.keyhold.previous_version,
      meta.body.data.keyhold.pending_version],
    [2, 1, null]);
  assert.equal(fs.readFileSync(path.join(dir, "provider"), "utf8").trim(), "rotated-1");

  // Called once per step with the step and path only; the token could not read another path,
  // and is worthless once the rotation is over.
  assert.equal(fs.readFileSync(path.join(dir, "calls.log"), "utf8"),
    "create secret/db/main 2\nset secret/db/main 2\ntest secret/db/main 2\n");
  assert.equal(fs.readFileSync(path.join(dir, "other-status"), "utf8").trim(), "403");
  const stale = await s.call("secrets.getStageValue", { path: "db/main" },
    fs.readFileSync(path.join(dir, "last-token"), "utf8"));
  assert.equal(stale.status, 401);

  const audit = await auditText();
  assert.match(audit, /secret\.rotation_finish/);
  assert.equal(audit.includes("rotated-1") || audit.includes("first-password"), false);
});

test("a failing step leaves the current value, and running again retries it", async () => {
  await vault("POST", "secret/data/db/flaky", { data: { password: "first-password" } });
  fs.writeFileSync(path.join(dir, "fail-set"), "");
  fs.writeFileSync(path.join(dir, "calls.log"), "");
  let r = await cli(["secrets", "rotate", "secret/db/flaky"], { env });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /failed: set: the command exited with status 4/);

  // Current untouched; the pending value waits beside it, by stage or by number.
  let got = await vault("GET", "secret/data/db/flaky");
  assert.equal(got.body.data.data.password, "first-password");
  const pending = await vault("GET", "secret/data/db/flaky?keyhold_stage=pending");
  assert.equal(pending.body.data.data.password, "rotated-2");
  assert.equal((await vault("GET", "secret/data/db/flaky?version=2")).body.data.data.password,
    "rotated-2");
  const meta = await vault("GET", "secret/metadata/db/flaky");
  assert.equal(meta.body.data.keyhold.pending_version, 2);
  assert.equal(meta.body.data.keyhold.rotation_step, "create");
  assert.equal(meta.body.data.keyhold.rotation_failure, "set: the command exited with status 4");
  const blocked = await vault("POST", "secret/data/db/flaky", { data: { password: "x" } });
  assert.equal(blocked.status, 400);
  assert.match(blocked.text, /rotation of this secret is under way/);
  const audit = await auditText();
  assert.match(audit, /"outcome":"failed"/);

  fs.rmSync(path.join(dir, "fail-set"));
  r = await cli(["secrets", "rotate", "secret/db/flaky"], { env });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  got = await vault("GET", "secret/data/db/flaky");
  assert.equal(got.body.data.data.password, "rotated-2");
  // create ran once: the retry picked up at the failed step.
  assert.equal(fs.readFileSync(path.join(dir, "calls.log"), "utf8"),
    "create secret/db/flaky 2\nset secret/db/flaky 2\nset secret/db/flaky 2\ntest secret/db/flaky 2\n");
  // Running a finished step again changes nothing.
  r = await cli(["secrets", "rotate", "secret/db/flaky", "--step", "finish", "--json"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).currentVersion, 2);
});

test("cancel drops the pending version; steps out of order are refused", async () => {
  await vault("POST", "secret/data/db/cancelled", { data: { password: "first-password" } });
  let r = await cli(["secrets", "rotate", "secret/db/cancelled", "--step", "test"], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /comes after 'create', which is not done yet/);
  r = await cli(["secrets", "rotate", "secret/db/cancelled", "--step", "create"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /pending 2 \(last step done: create\)/);
  r = await cli(["secrets", "rotate", "secret/db/cancelled", "--cancel"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await vault("GET", "secret/data/db/cancelled?keyhold_stage=pending")).status, 404);
  assert.equal((await vault("GET", "secret/data/db/cancelled")).body.data.data.password,
    "first-password");
});

test("cancel once set has run is refused (409) unless forced", async () => {
  await vault("POST", "secret/data/db/set-already", { data: { password: "first-password" } });
  for (const step of ["create", "set"]) {
    const r = await cli(["secrets", "rotate", "secret/db/set-already", "--step", step], { env });
    assert.equal(r.code, 0, r.stderr);
  }
  const refused = await s.call("secrets.cancelRotation", { path: "db/set-already" });
  assert.equal(refused.status, 409, refused.text);
  assert.match(refused.body.error.type, /rotation_past_set$/);
  let r = await cli(["secrets", "rotate", "secret/db/set-already", "--cancel"], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /step 'set' has run/);
  assert.equal((await vault("GET", "secret/data/db/set-already?keyhold_stage=pending")).status, 200);
  r = await cli(["secrets", "rotate", "secret/db/set-already", "--force"], { env });
  assert.equal(r.code, 2);
  r = await cli(["secrets", "rotate", "secret/db/set-already", "--cancel", "--force"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await vault("GET", "secret/data/db/set-already?keyhold_stage=pending")).status, 404);
  assert.match(await auditText(), /secret\.rotation_cancel[^}]*forced/);
});

test("a command others can change stops the start, named", async () => {
  const d = tempDir("rotation-loose");
  const loose = path.join(d, "rotate.sh");
  fs.writeFileSync(loose, "#!/bin/sh\nexit 0\n");
  fs.chmodSync(loose, 0o777);
  const args = ["--data-dir", path.join(d, "data"), "--listen", "127.0.0.1:0",
    "--secret-rotation-command", loose];
  let r = await cli(["serve", ...args]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`secret_rotation_command: ${loose}: it is writable by group or others`));
  const config = path.join(d, "keyhold.toml");
  fs.writeFileSync(config, `secret_rotation_command = "${loose}"\n`);
  r = await cli(["serve", "--check-config", config, "--data-dir", path.join(d, "data")]);
  assert.equal(r.code, 2);
  assert.match(r.stderr + r.stdout, /it is writable by group or others/);
  fs.chmodSync(loose, 0o755);
  r = await cli(["serve", "--check-config", config, "--data-dir", path.join(d, "data")]);
  assert.equal(r.code, 0, r.stderr);
});

test("rotate answers 202 and the steps run apart from request threads: one worker is enough", async () => {
  const one = await new Server({
    args: ["--workers", "1", "--secret-rotation-command", script, "--secret-rotation-timeout", "20s"],
  }).start();
  try {
    const put = await fetch(`${one.url}/v1/secret/data/db/one-worker`, {
      method: "POST",
      headers: { "x-vault-token": one.rootKey, "content-type": "application/json" },
      body: JSON.stringify({ data: { password: "first-password" } }),
    });
    assert.equal(put.status, 200);
    const started = Date.now();
    const r = await one.call("secrets.rotate", { path: "db/one-worker" });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.data.running, true);
    assert.equal(r.body.data.currentVersion, 1);
    let state;
    await eventually(async () => {
      state = await one.ok("secrets.getRotation", { path: "db/one-worker" });
      assert.equal(state.running, false);
    }, 15000);
    assert.equal(state.lastStep, "finish", JSON.stringify(state));
    assert.equal(state.failure, null);
    assert.equal(state.currentVersion, 2);
    // The command's calls back into the server were served while its step ran: well within the
    // step timeout, which a step waiting on the only worker would have run into.
    assert.ok(Date.now() - started < 15000);
    // The CLI waits for the end in the same way.
    const cliEnv = { KEYHOLD_ADDR: one.url, KEYHOLD_TOKEN: one.rootKey };
    const again = await cli(["secrets", "rotate", "secret/db/one-worker"], { env: cliEnv });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /current version 3, previous 2 \(rotated\)/);
  } finally {
    await one.stop();
  }
});

test("rotation needs secret.rotate on the path", async () => {
  await vault("POST", "secret/data/db/guarded", { data: { password: "first-password" } });
  const reader = await s.ok("rootKeys.createRootKey", { permissions: ["secret.read:secret/*"] });
  const refused = await s.call("secrets.rotate", { path: "db/guarded" }, reader.key);
  assert.equal(refused.status, 403);
  const rotator = await s.ok("rootKeys.createRootKey", { permissions: ["secret.rotate:secret/db/*"] });
  const status = await s.call("secrets.getRotation", { path: "db/guarded" }, rotator.key);
  assert.equal(status.status, 200, status.text);
  assert.equal(status.body.data.currentVersion, 1);
  const bad = await s.call("secrets.rotate", { path: "db/guarded", step: "later" });
  assert.equal(bad.status, 400);
});

test("secrets due lists due and overdue secrets earliest first, and reminders are raised", async () => {
  let r = await cli(["secrets", "due", "--within", "0"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "no secrets due\n");
  await vault("POST", "secret/data/due/later", { data: { k: "v" } });
  await vault("POST", "secret/data/due/soon", { data: { k: "v" } });
  assert.equal((await vault("POST", "secret/metadata/due/later", { rotation_period: "3s" })).status, 204);
  assert.equal((await vault("POST", "secret/metadata/due/soon", { rotation_period: "1s" })).status, 204);
  r = await cli(["secrets", "due", "--within", "1m", "--json"], { env });
  let due = JSON.parse(r.stdout);
  assert.deepEqual(due.map((d) => d.path), ["due/soon", "due/later"]);
  assert.equal(due[0].overdue, false);
  await eventually(async () => {
    const now = JSON.parse((await cli(["secrets", "due", "--within", "0", "--json"], { env })).stdout);
    assert.deepEqual(now.map((d) => [d.path, d.overdue]), [["due/soon", true], ["due/later", true]]);
  }, 10000, 250);
  r = await cli(["secrets", "due", "--within", "0"], { env });
  assert.match(r.stdout, /^secret\/due\/soon {2}OVERDUE {2}\d{4}-/);
  await eventually(async () => {
    const alerts = await s.ok("alerts.list", { kind: "secret.rotation_due" });
    const texts = alerts.map((a) => a.summary);
    assert.ok(texts.includes("secret secret/due/soon is due for rotation"), texts.join("; "));
    assert.ok(texts.includes("secret secret/due/soon is overdue for rotation"), texts.join("; "));
  });
});

test("a signed webhook can drive the steps instead of a command", async () => {
  const http = await import("node:http");
  const crypto = await import("node:crypto");
  const key = crypto.randomBytes(24);
  const secretFile = path.join(dir, "webhook.secret");
  fs.writeFileSync(secretFile, `whsec_${key.toString("base64")}\n`, { mode: 0o600 });
  const seen = [];
  let failTest = true;
  const receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", async () => {
      const id = req.headers["webhook-id"];
      const ts = req.headers["webhook-timestamp"];
      const expected = "v1," + crypto.createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest("base64");
      const signed = req.headers["webhook-signature"] === expected;
      const event = JSON.parse(body);
      seen.push({ step: event.data.step, signed, argvFree: !body.includes("webhook-value") });
      const { step, mount, path: p, keyholdAddr, token } = event.data;
      const call = (op, payload) => fetch(`${keyholdAddr}/v2/secrets.${op}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ mount, path: p, ...payload }),
      });
      let status = signed ? 200 : 401;
      if (signed && step === "create") {
        status = (await call("putPendingValue", { data: { password: "webhook-value" } })).status;
      } else if (signed && step === "test" && failTest) {
        status = 500;
      }
      res.writeHead(status).end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const hook = new Server({
    args: ["--secret-rotation-webhook", `http://127.0.0.1:${receiver.address().port}/rotate`,
      "--secret-rotation-webhook-secret-file", secretFile, "--webhook-allow-private-networks", "true"],
  });
  await hook.start();
  try {
    const hookEnv = { KEYHOLD_ADDR: hook.url, KEYHOLD_TOKEN: hook.rootKey };
    await fetch(`${hook.url}/v1/secret/data/api/token`, {
      method: "POST",
      headers: { "x-vault-token": hook.rootKey, "content-type": "application/json" },
      body: JSON.stringify({ data: { password: "first-password" } }),
    });
    let r = await cli(["secrets", "rotate", "secret/api/token"], { env: hookEnv });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /failed: test: the webhook answered HTTP 500/, r.stderr);
    r = await cli(["secrets", "get", "secret/api/token#password"], { env: hookEnv });
    assert.equal(r.stdout, "first-password\n");
    failTest = false;
    r = await cli(["secrets", "rotate", "secret/api/token"], { env: hookEnv });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    r = await cli(["secrets", "get", "secret/api/token#password"], { env: hookEnv });
    assert.equal(r.stdout, "webhook-value\n");
    assert.deepEqual(seen.map((e) => e.step), ["create", "set", "test", "test"]);
    assert.ok(seen.every((e) => e.signed && e.argvFree), JSON.stringify(seen));
  } finally {
    await hook.stop();
    receiver.close();
  }
  assert.equal(hook.stderr.includes("webhook-value"), false, "a value was logged");
});

test("what runs is checked when the configuration is", async () => {
  const bad = path.join(dir, "bad.toml");
  fs.writeFileSync(bad, `secret_rotation_command = "rotate.sh"\n`);
  let r = await cli(["serve", "--check-config", bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /secret_rotation_command must be an absolute path/);
  fs.writeFileSync(bad, `secret_rotation_command = "${script}"\nsecret_rotation_webhook = "https://example.com/x"\n`);
  r = await cli(["serve", "--check-config", bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /set either secret_rotation_command or secret_rotation_webhook/);
  fs.writeFileSync(bad, `secret_rotation_command = "${path.join(dir, "missing.sh")}"\n`);
  r = await cli(["serve", "--check-config", bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot run .*missing\.sh/);
});

test("a stop ends a running step at once, recorded as interrupted, and a restart retries it", async () => {
  const d = tempDir("rotation-stop");
  const slow = path.join(d, "rotate-slow.sh");
  // set takes 20s unless told to be quick; the provider here is a file again.
  fs.writeFileSync(
    slow,
    `#!/bin/sh
set -eu
dir='${d}'
body='{"mount":"'"$KEYHOLD_SECRET_MOUNT"'","path":"'"$KEYHOLD_SECRET_PATH"'"'
case "$1" in
  create)
    curl -sf -H "Authorization: Bearer $KEYHOLD_TOKEN" -H 'content-type: application/json' \\
      -d "$body"',"data":{"password":"slow-rotated"}}' "$KEYHOLD_ADDR/v2/secrets.putPendingValue" >/dev/null
    ;;
  set)
    echo started >> "$dir/set-started"
    [ -e "$dir/quick" ] || sleep 20
    echo done >> "$dir/set-done"
    ;;
  test) ;;
  *) exit 9 ;;
esac
`,
  );
  fs.chmodSync(slow, 0o700);
  const args = ["--secret-rotation-command", slow, "--secret-rotation-timeout", "60s"];
  const first = await new Server({ args }).start();
  const put = await fetch(`${first.url}/v1/secret/data/db/slow`, {
    method: "POST",
    headers: { "x-vault-token": first.rootKey, "content-type": "application/json" },
    body: JSON.stringify({ data: { password: "first-password" } }),
  });
  assert.equal(put.status, 200);
  const r = await first.call("secrets.rotate", { path: "db/slow" });
  assert.equal(r.status, 202, r.text);
  await eventually(() => assert.ok(fs.existsSync(path.join(d, "set-started"))), 10000);

  const stopping = Date.now();
  const exit = await first.stop();
  assert.equal(exit.code, 0, first.stderr);
  assert.ok(Date.now() - stopping < 8000, `stopping took ${Date.now() - stopping}ms`);
  // The step was ended with the server, not left to finish after it, and recorded before the
  // last checkpoint and before "stopped".
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(fs.existsSync(path.join(d, "set-done")), false);
  const log = first.stderr;
  const failedAt = log.indexOf("rotation of secret secret/db/slow interrupted: set: the command was stopped");
  assert.ok(failedAt >= 0, log);
  assert.ok(failedAt < log.lastIndexOf("audit checkpoint"), log);
  const stoppedAt = log.search(/ stopped\r?\n?$/);
  assert.ok(stoppedAt > failedAt, log);

  const again = new Server({ dataDir: first.dataDir, args });
  await again.start();
  again.rootKey = first.rootKey;
  try {
    let state = await again.ok("secrets.getRotation", { path: "db/slow" });
    assert.equal(state.running, false);
    assert.equal(state.lastStep, "create", JSON.stringify(state));
    assert.match(state.failure, /^set: the command was stopped as keyhold stopped/);
    assert.equal(state.lastOutcome.result, "interrupted", JSON.stringify(state));
    assert.equal(state.lastOutcome.step, "set");
    assert.equal(state.currentVersion, 1);
    assert.equal(state.pendingVersion, 2);
    // Retryable: rotating again runs set again (quick now) and finishes.
    fs.writeFileSync(path.join(d, "quick"), "");
    assert.equal((await again.call("secrets.rotate", { path: "db/slow" })).status, 202);
    await eventually(async () => {
      state = await again.ok("secrets.getRotation", { path: "db/slow" });
      assert.equal(state.running, false);
    }, 15000);
    assert.equal(state.lastStep, "finish", JSON.stringify(state));
    assert.equal(state.currentVersion, 2);
    assert.equal(fs.readFileSync(path.join(d, "set-started"), "utf8"), "started\nstarted\n");
  } finally {
    await again.stop();
  }
});

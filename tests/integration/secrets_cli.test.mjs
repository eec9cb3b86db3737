// `keyhold secrets …`, `keyhold run` and `keyhold operator rotate-kek` as a user types them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { Server, cli, tempDir, BIN } from "../lib/keyhold.mjs";

let s;
let env;

before(async () => {
  s = await new Server().start();
  env = { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: s.rootKey };
});
after(async () => {
  await s.stop();
  for (const value of ["cli-pass-1", "from-stdin-2", "file-secret-3"]) {
    assert.equal(s.stderr.includes(value) || s.stdout.includes(value), false, "a value was logged");
  }
});

test("put from arguments, a file and stdin; get; list; values never echoed", async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "cert.pem"), "file-secret-3");
  let r = await cli(["secrets", "put", "secret/mail/smtp", "user=mailer", "password=cli-pass-1"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "secret/mail/smtp: version 1");
  r = await cli(["secrets", "put", "secret/mail/imap", "password=-", `cert=@${path.join(dir, "cert.pem")}`], {
    env,
    input: "from-stdin-2\n",
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.includes("from-stdin-2") || r.stdout.includes("file-secret-3"), false);
  r = await cli(["secrets", "get", "secret/mail/imap#password"], { env });
  assert.equal(r.stdout, "from-stdin-2\n");
  r = await cli(["secrets", "get", "secret/mail/imap", "--field", "cert"], { env });
  assert.equal(r.stdout, "file-secret-3\n");
  r = await cli(["secrets", "get", "secret/mail/smtp", "--json"], { env });
  assert.deepEqual(JSON.parse(r.stdout).data, { user: "mailer", password: "cli-pass-1" });
  r = await cli(["secrets", "list", "secret/mail"], { env });
  assert.equal(r.stdout, "imap\nsmtp\n");
  r = await cli(["secrets", "list", "secret", "--recursive"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "mail/imap\nmail/smtp\n");
  r = await cli(["secrets", "list", "secret/mail", "--recursive", "--json"], { env });
  assert.deepEqual(JSON.parse(r.stdout), ["imap", "smtp"]);
  r = await cli(["secrets", "list", "secret/none"], { env });
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "no secrets\n");
  r = await cli(["secrets", "get", "secret/mail/imap#nofield"], { env });
  assert.equal(r.code, 1);
});

test("versions, patch, delete, undelete, destroy, metadata", async () => {
  await cli(["secrets", "put", "secret/app/db", "password=v1"], { env });
  let r = await cli(["secrets", "patch", "secret/app/db", "user=app"], { env });
  assert.equal(r.stdout.trim(), "secret/app/db: version 2");
  r = await cli(["secrets", "get", "secret/app/db", "--version", "1", "--json"], { env });
  assert.deepEqual(JSON.parse(r.stdout).data, { password: "v1" });
  r = await cli(["secrets", "put", "secret/app/db", "password=v3", "--cas", "1"], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /check-and-set/);
  await cli(["secrets", "delete", "secret/app/db"], { env });
  r = await cli(["secrets", "get", "secret/app/db"], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /version 2 is deleted/);
  await cli(["secrets", "undelete", "secret/app/db", "--versions", "2"], { env });
  assert.equal((await cli(["secrets", "get", "secret/app/db#user"], { env })).stdout, "app\n");
  await cli(["secrets", "destroy", "secret/app/db", "--versions", "1,2"], { env });
  r = await cli(["secrets", "get", "secret/app/db"], { env });
  assert.match(r.stderr, /version 2 is destroyed/);
  r = await cli(["secrets", "metadata", "put", "secret/app/db", "--max-versions", "3", "--rotation-period", "720h",
    "--custom", "owner=ops"], { env });
  assert.equal(r.code, 0, r.stderr);
  const meta = JSON.parse((await cli(["secrets", "metadata", "get", "secret/app/db"], { env })).stdout);
  assert.equal(meta.max_versions, 3);
  assert.deepEqual(meta.custom_metadata, { owner: "ops" });
  assert.equal(meta.keyhold.rotation_period, "720h0m0s");
  r = await cli(["secrets", "metadata", "delete", "secret/app/db"], { env });
  assert.equal(r.code, 0);
  assert.equal((await cli(["secrets", "get", "secret/app/db"], { env })).code, 1);
});

test("bad usage is exit 2 with a message; an unreachable server is exit 3", async () => {
  for (const args of [
    ["secrets", "put", "secret//x", "a=1"],
    ["secrets", "put", "secret/x", "novalue"],
    ["secrets", "put", "secret/x", "a=-", "b=-"],
    ["secrets", "put", "sys/x", "a=1"],
    ["run", "--secret", "1BAD=secret/x", "--", "true"],
    ["run", "--secret", "X=secret/x"],
  ]) {
    const r = await cli(args, { env });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /error/);
  }
  // The message says what is wrong with the path, not how to write a secret.
  for (const [args, why] of [
    [["secrets", "list", "secret/../", "--recursive"], /'secret\/\.\.\/' is not a folder to list: the segment '\.\.' is not allowed/],
    [["secrets", "list", "secret/a//b/"], /not a folder to list: a segment is empty/],
    [["secrets", "put", "secret/a b", "k=v"], /'secret\/a b' is not a secret path: the character ' ' is not allowed/],
    [["secrets", "get", "secret"], /has no path after the mount/],
  ]) {
    const bad = await cli(args, { env });
    assert.equal(bad.code, 2, `${args.join(" ")}: ${bad.stderr}`);
    assert.match(bad.stderr, why);
  }
  const r = await cli(["secrets", "get", "secret/x"], { env: { KEYHOLD_ADDR: "http://127.0.0.1:1", KEYHOLD_TOKEN: "x" } });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /127\.0\.0\.1:1/);
});

test("enable a mount and rotate the keyring", async () => {
  let r = await cli(["secrets", "enable", "payments"], { env });
  assert.equal(r.code, 0, r.stderr);
  r = await cli(["secrets", "put", "payments/stripe", "key=sk"], { env });
  assert.equal(r.code, 0, r.stderr);
  r = await cli(["operator", "rotate-kek"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await cli(["secrets", "get", "payments/stripe#key"], { env })).stdout, "sk\n");
});

test("run: secrets in the environment only, the child's exit status, no token passed on", async () => {
  await cli(["secrets", "put", "secret/run/smtp", "password=run-pass", "user=u"], { env });
  await cli(["secrets", "put", "secret/run/single", "token=only-one"], { env });
  const dir = tempDir();
  const map = path.join(dir, "mapping");
  fs.writeFileSync(map, "# mapping\nSMTP_USER=secret/run/smtp#user\n\n");
  const script = 'printf "%s|%s|%s|%s|%s" "$SMTP_PASSWORD" "$SMTP_USER" "$ONLY" "${KEYHOLD_TOKEN:-none}" "$*"; exit 7';
  const r = await cli(["run", "--secret", "SMTP_PASSWORD=secret/run/smtp#password", "--secret", "ONLY=secret/run/single",
    "--env-file", map, "--", "sh", "-c", script, "sh", "-x", "--flag"], { env });
  assert.equal(r.code, 7, r.stderr);
  assert.equal(r.stdout, "run-pass|u|only-one|none|-x --flag");
  const missing = await cli(["run", "--secret", "X=secret/run/smtp", "--", "true"], { env });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /several fields/);
  const notfound = await cli(["run", "--secret", "X=secret/run/none#a", "--", "true"], { env });
  assert.equal(notfound.code, 1);
  const nocmd = await cli(["run", "--secret", "X=secret/run/single", "--", "/nonexistent/cmd"], { env });
  assert.equal(nocmd.code, 127);
});

test("run forwards signals to the child and exits as it does", async () => {
  const p = spawn(BIN, ["run", "--secret", "T=secret/run/single", "--", "sh", "-c",
    'trap "echo got-term; exit 5" TERM; echo ready; while :; do sleep 0.05; done'], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  const exited = new Promise((resolve) => p.on("exit", (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 10000;
  while (!out.includes("ready") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  p.kill("SIGTERM");
  const { code } = await exited;
  assert.equal(code, 5);
  assert.match(out, /got-term/);
});

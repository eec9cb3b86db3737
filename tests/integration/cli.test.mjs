// The command line as a client of a running server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Server, cli, selfSignedCert, tempDir } from "../lib/keyhold.mjs";

let s;
let env;
before(async () => {
  s = await new Server().start();
  env = { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: s.rootKey };
});
after(() => s.stop());

test("apis and keys from the command line, human and --json", async () => {
  const api = await cli(["apis", "create", "--name", "mail", "--json"], { env });
  assert.equal(api.code, 0, api.stderr);
  const apiId = JSON.parse(api.stdout).apiId;
  const human = await cli(["apis", "get", apiId], { env });
  assert.match(human.stdout, new RegExp(`${apiId}\\s+mail`));

  const created = await cli(["keys", "create", "--api-id", apiId, "--prefix", "smtp", "--permission",
    "mail.send", "--credits", "5", "--name", "relay", "--json"], { env });
  assert.equal(created.code, 0, created.stderr);
  const { keyId, key } = JSON.parse(created.stdout);
  assert.match(key, /^smtp_/);

  // The key can come from standard input, so it never shows in the process list.
  const ok = await cli(["keys", "verify", "-", "--permissions", "mail.send"], { env, input: key + "\n" });
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /^VALID/);
  const denied = await cli(["keys", "verify", key, "--permissions", "mail.admin"], { env });
  assert.equal(denied.code, 1);
  assert.match(denied.stdout, /INSUFFICIENT_PERMISSIONS/);

  const got = await cli(["keys", "get", keyId, "--json"], { env });
  assert.equal(JSON.parse(got.stdout).name, "relay");
  assert.ok(!got.stdout.includes(key));

  const upd = await cli(["keys", "update", keyId, "--enabled", "false"], { env });
  assert.equal(upd.code, 0);
  const disabled = await cli(["keys", "verify", key, "--json"], { env });
  assert.equal(JSON.parse(disabled.stdout).code, "DISABLED");
  assert.equal(disabled.code, 1);

  const list = await cli(["keys", "list", "--api-id", apiId], { env });
  assert.match(list.stdout, new RegExp(keyId));

  const del = await cli(["keys", "delete", keyId], { env });
  assert.equal(del.code, 0);
  const gone = await cli(["keys", "get", keyId], { env });
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /^error: Not Found: .* \(data\/key_not_found\)\n/, "the error's code is shown");
});

test("root keys from the command line", async () => {
  const created = await cli(["root-keys", "create", "--name", "verifier", "--permission", "api.*.verify_key", "--json"], { env });
  assert.equal(created.code, 0, created.stderr);
  const { keyId, key } = JSON.parse(created.stdout);
  const list = await cli(["root-keys", "list"], { env });
  assert.match(list.stdout, new RegExp(keyId));
  assert.match(list.stdout, /api\.\*\.verify_key/);
  const narrow = await cli(["apis", "create", "--name", "nope"], { env: { ...env, KEYHOLD_TOKEN: key } });
  assert.equal(narrow.code, 1);
  assert.match(narrow.stderr, /Forbidden/);
  const del = await cli(["root-keys", "delete", keyId], { env });
  assert.equal(del.code, 0);
});

test("keys reroll and root-keys reroll", async () => {
  const api = JSON.parse((await cli(["apis", "create", "--name", "rolled", "--json"], { env })).stdout);
  const created = JSON.parse((await cli(["keys", "create", "--api-id", api.apiId, "--prefix", "roll",
    "--json"], { env })).stdout);
  const rolled = await cli(["keys", "reroll", created.keyId, "--overlap", "1h", "--json"], { env });
  assert.equal(rolled.code, 0, rolled.stderr);
  const fresh = JSON.parse(rolled.stdout);
  assert.match(fresh.key, /^roll_/);
  const human = await cli(["keys", "reroll", fresh.keyId, "--overlap", "0"], { env });
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /shown only this once/);
  const again = await cli(["keys", "reroll", created.keyId, "--overlap", "0"], { env });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already rerolled/);
  const bad = await cli(["keys", "reroll", created.keyId, "--overlap", "soon"], { env });
  assert.equal(bad.code, 2);
  const missing = await cli(["keys", "reroll", created.keyId], { env });
  assert.equal(missing.code, 2);

  const root = JSON.parse((await cli(["root-keys", "create", "--permission", "api.*.verify_key",
    "--json"], { env })).stdout);
  const rootRolled = await cli(["root-keys", "reroll", root.keyId, "--overlap", "10m", "--json"], { env });
  assert.equal(rootRolled.code, 0, rootRolled.stderr);
  assert.match(JSON.parse(rootRolled.stdout).key, /^khr_/);
});

test("exit codes for usage errors and an unreachable server", async () => {
  const usage = await cli(["keys", "create"], { env });
  assert.equal(usage.code, 2);
  const noToken = await cli(["apis", "get", "api_x"], { env: { KEYHOLD_TOKEN: "" } });
  assert.equal(noToken.code, 2);
  const down = await cli(["apis", "get", "api_x"], { env: { KEYHOLD_ADDR: "http://127.0.0.1:1", KEYHOLD_TOKEN: "x" } });
  assert.equal(down.code, 3);
  const help = await cli(["--help"]);
  assert.equal(help.code, 0);
  for (const c of ["serve", "init", "apis", "keys", "root-keys"]) assert.match(help.stdout, new RegExp(c));
});

test("one flag name for one thing: --permission on create and verify, the former --permissions hidden", async () => {
  const { apiId } = JSON.parse((await cli(["apis", "create", "--name", "flags", "--json"], { env })).stdout);
  const key = (await cli(["keys", "create", "--api-id", apiId, "--permission", "a.read", "--permission", "b.write", "--quiet"], { env })).stdout.trim();
  const one = await cli(["keys", "verify", "-", "--permission", "a.read"], { env, input: key });
  assert.equal(one.code, 0, one.stderr);
  const all = await cli(["keys", "verify", "-", "--permission", "a.read", "--permission", "b.write OR c"], { env, input: key });
  assert.equal(all.code, 0, all.stderr);
  const missing = await cli(["keys", "verify", "-", "--permission", "a.read", "--permission", "c"], { env, input: key });
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /INSUFFICIENT_PERMISSIONS/);
  const former = await cli(["keys", "verify", "-", "--permissions", "a.read"], { env, input: key });
  assert.equal(former.code, 0, former.stderr);
  const help = await cli(["keys", "verify", "--help"]);
  assert.match(help.stdout, /--permission\b/);
  assert.doesNotMatch(help.stdout, /--permissions/);
  const usageHelp = await cli(["usage", "--help"]);
  assert.match(usageHelp.stdout, /--key-id/);
  assert.match(usageHelp.stdout, /--api-id/);
  assert.equal((await cli(["usage", "--api", apiId, "--json"], { env })).code, 0);
});

test("an unknown command or flag is named, with the closest correct one", async () => {
  let r = await cli(["kyes", "list"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^keyhold: unknown command 'kyes'; did you mean 'keys'\?/);
  r = await cli(["keys", "verfy", "x"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^keyhold keys: unknown command 'verfy'; did you mean 'verify'\?/);
  r = await cli(["keys", "verify", "x", "--permisions", "a"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^keyhold keys verify: unknown flag '--permisions'; did you mean '--permission'\?/);
  r = await cli(["keys", "list", "--api-di=api_x"]);
  assert.match(r.stderr, /^keyhold keys list: unknown flag '--api-di'; did you mean '--api-id'\?/);
  r = await cli(["keys", "list", "--api-id", "api_x", "--zzzzzz"]);
  assert.match(r.stderr, /^keyhold keys list: unknown flag '--zzzzzz'\nRun 'keyhold keys list --help'/);
  r = await cli(["scan", "--formt", "json", "."]);
  assert.match(r.stderr, /unknown flag '--formt'; did you mean '--format'\?/);
});

test("cannot reach the server: the address tried is named", async () => {
  const r = await cli(["keys", "list", "--api-id", "api_x"], { env: { KEYHOLD_ADDR: "http://127.0.0.1:1", KEYHOLD_TOKEN: "x" } });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /cannot reach the keyhold server at http:\/\/127\.0\.0\.1:1/);
});

test("a private CA is trusted through --cacert or KEYHOLD_CACERT", async () => {
  const dir = tempDir("ca");
  const { key, cert } = selfSignedCert(dir);
  const tls = await new Server({ args: ["--tls-cert", cert, "--tls-key", key] }).start();
  try {
    const tenv = { KEYHOLD_ADDR: tls.url, KEYHOLD_TOKEN: tls.rootKey, KEYHOLD_CACERT: "" };
    const untrusted = await cli(["root-keys", "list"], { env: tenv });
    assert.equal(untrusted.code, 3);
    assert.match(untrusted.stderr, new RegExp(`cannot reach the keyhold server at ${tls.url.replaceAll(".", "\\.")}: .*certificate verify failed`));
    const flag = await cli(["root-keys", "list", "--cacert", cert], { env: tenv });
    assert.equal(flag.code, 0, flag.stderr);
    const before = await cli(["--cacert", cert, "root-keys", "list", "--quiet"], { env: tenv });
    assert.equal(before.code, 0, before.stderr);
    const viaEnv = await cli(["root-keys", "list"], { env: { ...tenv, KEYHOLD_CACERT: cert } });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const missing = await cli(["root-keys", "list", "--cacert", path.join(dir, "none.pem")], { env: tenv });
    assert.equal(missing.code, 2);
  } finally {
    await tls.stop();
  }
});

test("lists have a header, and say so when empty; --quiet prints ids", async () => {
  const { apiId } = JSON.parse((await cli(["apis", "create", "--name", "listing", "--json"], { env })).stdout);
  const empty = await cli(["keys", "list", "--api-id", apiId], { env });
  assert.equal(empty.code, 0);
  assert.equal(empty.stdout, "no keys\n");
  assert.equal((await cli(["keys", "list", "--api-id", apiId, "--quiet"], { env })).stdout, "");
  const keyId = JSON.parse((await cli(["keys", "create", "--api-id", apiId, "--name", "first", "--json"], { env })).stdout).keyId;
  const one = await cli(["keys", "list", "--api-id", apiId], { env });
  const lines = one.stdout.trim().split("\n");
  assert.match(lines[0], /^KEY ID\s+START\s+STATE\s+NAME$/);
  assert.match(lines[1], new RegExp(`^${keyId}\\s+\\S+\\s+enabled\\s+first$`));
  assert.equal((await cli(["keys", "list", "--api-id", apiId, "--quiet"], { env })).stdout, `${keyId}\n`);
  const roots = await cli(["root-keys", "list"], { env });
  assert.match(roots.stdout, /^KEY ID\s+START\s+STATE\s+NAME\n/);
});

test("--help says what keyhold is today", async () => {
  const help = await cli(["--help"]);
  const tagline = help.stdout.split("\nClient commands")[0];
  for (const part of ["API keys", "Unkey v2 API", "secrets", "Vault KV v2 API", "audit log", "leak scanner"]) {
    assert.ok(tagline.includes(part), part);
  }
  assert.match(help.stdout, /--cacert/);
  assert.match(help.stdout, /completion/);
});

test("shell completion for bash and zsh, from the command definitions", async () => {
  const bash = await cli(["completion", "bash"]);
  assert.equal(bash.code, 0);
  const dir = tempDir("completion");
  fs.writeFileSync(path.join(dir, "keyhold.bash"), bash.stdout);
  const complete = (words) => spawnSync("bash", ["-c",
    `source ${dir}/keyhold.bash; COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _keyhold; printf '%s\\n' "\${COMPREPLY[@]}"`],
  { encoding: "utf8" }).stdout.trim().split("\n");
  assert.deepEqual(complete("keyhold ke"), ["keys"]);
  assert.ok(complete("keyhold keys ''").includes("verify"));
  assert.deepEqual(complete("keyhold keys verify --per"), ["--permission"]);
  assert.deepEqual(complete("keyhold --cacert ca.pem keys create --api-id x --cre"), ["--credits"]);
  assert.deepEqual(complete("keyhold completion --h"), ["--help"]);

  const zsh = await cli(["completion", "zsh"]);
  assert.equal(zsh.code, 0);
  assert.match(zsh.stdout, /^#compdef keyhold\n/);
  fs.writeFileSync(path.join(dir, "_keyhold"), zsh.stdout);
  const z = spawnSync("zsh", ["-c",
    `compadd() { print -rl -- "$@"; }; compdef() {}; source ${dir}/_keyhold; words=(keyhold keys verify --per); CURRENT=4; _keyhold`],
  { encoding: "utf8" });
  assert.equal(z.error, undefined, "zsh is missing: scripts/setup --test installs it");
  assert.equal(z.status, 0, z.stderr);
  const offered = z.stdout.trim().split("\n");
  assert.ok(offered.includes("--permission"));
  assert.ok(!offered.includes("--permissions"), "hidden former names are not offered");
  assert.ok(!offered.includes("create"));
});

test("apis list: the APIs the root key may read, with a header; apis get", async () => {
  const a = (await cli(["apis", "create", "--name", "listed-a", "--quiet"], { env })).stdout.trim();
  const b = (await cli(["apis", "create", "--name", "listed-b", "--quiet"], { env })).stdout.trim();
  const all = await cli(["apis", "list"], { env });
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /^API ID\s+NAME\n/);
  assert.match(all.stdout, new RegExp(`^${a}\\s+listed-a$`, "m"));
  assert.match(all.stdout, new RegExp(`^${b}\\s+listed-b$`, "m"));
  const ids = (await cli(["apis", "list", "--quiet"], { env })).stdout.trim().split("\n");
  assert.ok(ids.includes(a) && ids.includes(b));
  assert.deepEqual([...ids].sort(), ids, "in id order");
  const json = JSON.parse((await cli(["apis", "list", "--json"], { env })).stdout);
  assert.equal(json.find((x) => x.id === a).name, "listed-a");

  // A root key that may read one API lists that one; one that may read none: "no APIs".
  const narrow = JSON.parse((await cli(["root-keys", "create", "--permission", `api.${a}.read_api`, "--json"], { env })).stdout).key;
  const mine = await cli(["apis", "list", "--quiet"], { env: { ...env, KEYHOLD_TOKEN: narrow } });
  assert.equal(mine.stdout, `${a}\n`);
  const none = JSON.parse((await cli(["root-keys", "create", "--permission", `api.${a}.verify_key`, "--json"], { env })).stdout).key;
  const empty = await cli(["apis", "list"], { env: { ...env, KEYHOLD_TOKEN: none } });
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.stdout, "no APIs\n");
});

// Runs a command (a scan whose standard input, read after its files, stays open a while).
async function slowScan(command) {
  const { spawn } = await import("node:child_process");
  const p = spawn(command[0], command.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (out += d));
  const code = await new Promise((r) => p.on("exit", r));
  return { code, out };
}

test("a long scan shows files, bytes and rate on a terminal's stderr, and nothing when it is no terminal", async () => {
  const dir = tempDir("progress");
  fs.writeFileSync(path.join(dir, "a.txt"), "hello\n");
  const { BIN } = await import("../lib/keyhold.mjs");
  // Long enough that the scan waits more than a second on stdin even when the binary is slow
  // to start (a sanitizer build on a loaded machine).
  const pipeline = `sleep 3 | ${BIN} scan ${dir}/a.txt -`;
  // `script` runs the scan on a pseudo-terminal.
  const tty = await slowScan(["script", "-qec", pipeline, "/dev/null"]);
  assert.equal(tty.code, 0, tty.out);
  assert.match(tty.out, /\r\x1b\[Kkeyhold scan: 1 files, 0\.0 MB, [\d.]+ MB\/s/);
  assert.match(tty.out, /\r\x1b\[Kkeyhold scan: 0 finding\(s\) in 2 file\(s\)/, "the line is erased before the summary");
  const piped = await slowScan(["bash", "-c", pipeline]);
  assert.equal(piped.code, 0, piped.out);
  assert.doesNotMatch(piped.out, /MB\/s|\x1b/);
});

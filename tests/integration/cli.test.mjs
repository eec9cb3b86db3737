// The command line as a client of a running server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Server, cli } from "../lib/keyhold.mjs";

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
  assert.match(gone.stderr, /Not Found/);
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

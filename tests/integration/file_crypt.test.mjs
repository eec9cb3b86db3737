// `keyhold file encrypt|decrypt|keygen` run as a user would: round trips of .env, JSON and YAML,
// keys left in clear for diffs, tampering refused with exit 1 and nothing written, key files
// checked for their mode, keys kept in keyhold's own secrets, and no value ever printed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Server, cli, tempDir } from "../lib/keyhold.mjs";

const SECRETS = ["env-pass-9f3k", "json-token-7q2z", "yaml-pw-4m8x", "multi line\nvalue-5v1c"];

const ENV_FILE = `# database settings
export DB_PASSWORD='env-pass-9f3k'
DB_HOST=db.internal   # not secret, still sealed

PEM="multi line
value-5v1c"
`;
const JSON_FILE = { service: { label: "json-token-7q2z", port: 8443, ratio: 0.25, debug: false, none: null }, hosts: ["a", "b"] };
const YAML_FILE = "db:\n  password: yaml-pw-4m8x\n  port: 5432\n  port_text: \"5432\"\nflags: [true, false]\n";

let dir;
let key;

function noSecretIn(text, what) {
  for (const s of SECRETS) {
    for (const part of s.split("\n")) assert.equal(text.includes(part), false, `${what} shows a value`);
  }
}

async function encrypt(file, extra = []) {
  const r = await cli(["file", "encrypt", "--key-file", key, file, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  noSecretIn(r.stdout, "encrypt's stdout");
  noSecretIn(r.stderr, "encrypt's stderr");
  return r.stdout;
}

before(() => {
  dir = tempDir("filecrypt");
  key = path.join(dir, "file.key");
});

test("keygen writes a 0600 key file and never replaces one", async () => {
  let r = await cli(["file", "keygen", "--out", key]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /key id [0-9a-f]{16}/);
  assert.equal(r.stdout, "");
  assert.equal(fs.statSync(key).mode & 0o777, 0o600);
  assert.equal(Buffer.from(fs.readFileSync(key, "utf8").trim(), "base64").length, 32);
  const before = fs.readFileSync(key, "utf8");
  r = await cli(["file", "keygen", "--out", key]);
  assert.equal(r.code, 2);
  assert.equal(fs.readFileSync(key, "utf8"), before);
  r = await cli(["file", "keygen"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--out FILE, --secret/);
});

test(".env: round trip, comments, quoting and export kept, keys in clear", async () => {
  const file = path.join(dir, ".env");
  fs.writeFileSync(file, ENV_FILE);
  const sealed = await encrypt(file);
  const lines = sealed.split("\n");
  assert.equal(lines[0], "# database settings");
  assert.match(lines[1], /^export DB_PASSWORD='ENC\[AES256_GCM,data:[^\]]+,type:str\]'$/);
  assert.match(lines[2], /^DB_HOST=ENC\[AES256_GCM,.*\]   # not secret, still sealed$/);
  assert.equal(lines[3], "");
  assert.match(lines[4], /^PEM="ENC\[/);
  assert.match(lines[5], /^# keyhold: version=1 salt=\S+ key_id=[0-9a-f]{16} mac=\S+$/);
  const enc = path.join(dir, "sealed.env");
  fs.writeFileSync(enc, sealed);
  const r = await cli(["file", "decrypt", "--key-file", key, enc]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, ENV_FILE);
  noSecretIn(r.stderr, "decrypt's stderr");
});

test("JSON: round trip keeps order and types; YAML too", async () => {
  const json = path.join(dir, "config.json");
  fs.writeFileSync(json, JSON.stringify(JSON_FILE));
  const sealed = JSON.parse(await encrypt(json));
  assert.deepEqual(Object.keys(sealed), ["service", "hosts", "_keyhold"]);
  assert.deepEqual(Object.keys(sealed.service), ["label", "port", "ratio", "debug", "none"]);
  assert.match(sealed.service.port, /type:int\]$/);
  fs.writeFileSync(json, JSON.stringify(sealed, null, 2));
  let r = await cli(["file", "decrypt", "--key-file", key, json]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), JSON_FILE);
  assert.equal(JSON.stringify(JSON.parse(r.stdout)), JSON.stringify(JSON_FILE));

  const yaml = path.join(dir, "values.yml");
  fs.writeFileSync(yaml, YAML_FILE);
  const sealedYaml = await encrypt(yaml);
  assert.match(sealedYaml, /^db:\n {2}password: ENC\[AES256_GCM,/);
  assert.match(sealedYaml, /\n_keyhold:\n {2}version: 1\n/);
  fs.writeFileSync(yaml, sealedYaml);
  r = await cli(["file", "decrypt", "--key-file", key, yaml]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "db:\n  password: yaml-pw-4m8x\n  port: 5432\n  port_text: \"5432\"\nflags:\n  - true\n  - false\n");
});

test("--in-place rewrites atomically and keeps the mode (decrypted: at most 0600); encrypting twice is refused", async () => {
  const file = path.join(dir, "app.env");
  fs.writeFileSync(file, "A=env-pass-9f3k\n", { mode: 0o640 });
  fs.chmodSync(file, 0o640);
  let r = await cli(["file", "encrypt", "--key-file", key, "-i", file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(fs.statSync(file).mode & 0o777, 0o640);
  const sealed = fs.readFileSync(file, "utf8");
  noSecretIn(sealed, "the encrypted file");
  r = await cli(["file", "encrypt", "--key-file", key, "-i", file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /already encrypted/);
  assert.equal(fs.readFileSync(file, "utf8"), sealed);
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes(".keyhold-")), []);
  r = await cli(["file", "decrypt", "--key-file", key, "--in-place", file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(file, "utf8"), "A=env-pass-9f3k\n");
  // The plaintext is not left as readable as the committed encrypted file was.
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
});

test("a tampered file exits 1, names no value and is left untouched", async () => {
  const file = path.join(dir, "tamper.json");
  fs.writeFileSync(file, JSON.stringify({ a: "json-token-7q2z", b: "env-pass-9f3k" }));
  assert.equal((await cli(["file", "encrypt", "--key-file", key, "-i", file])).code, 0);
  const sealed = JSON.parse(fs.readFileSync(file, "utf8"));
  const cases = {
    "value swapped": { ...sealed, a: sealed.b, b: sealed.a },
    "key renamed": { c: sealed.a, b: sealed.b, _keyhold: sealed._keyhold },
    "entry removed": { a: sealed.a, _keyhold: sealed._keyhold },
    "entry added": { ...sealed, z: "plain" },
    "mac changed": { ...sealed, _keyhold: { ...sealed._keyhold, mac: sealed._keyhold.mac.replace(/^./, (c) => (c === "A" ? "B" : "A")) } },
  };
  for (const [name, doc] of Object.entries(cases)) {
    const text = JSON.stringify(doc, null, 2);
    fs.writeFileSync(file, text);
    const r = await cli(["file", "decrypt", "--key-file", key, "-i", file]);
    assert.equal(r.code, 1, `${name}: ${r.stderr}`);
    assert.match(r.stderr, /nothing was written/);
    assert.equal(r.stdout, "");
    noSecretIn(r.stderr, name);
    assert.equal(fs.readFileSync(file, "utf8"), text, `${name}: the file changed`);
  }
  // Another key: exit 1 too, saying so.
  const other = path.join(dir, "other.key");
  assert.equal((await cli(["file", "keygen", "--out", other])).code, 0);
  fs.writeFileSync(file, JSON.stringify(sealed));
  const r = await cli(["file", "decrypt", "--key-file", other, file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /another key/);
});

test("a key file others can read is refused; bad input is exit 2 without values", async () => {
  const loose = path.join(dir, "loose.key");
  fs.copyFileSync(key, loose);
  fs.chmodSync(loose, 0o644);
  const file = path.join(dir, "x.env");
  fs.writeFileSync(file, "A=env-pass-9f3k\n");
  let r = await cli(["file", "encrypt", "--key-file", loose, file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /mode 0600/);
  assert.equal(r.stdout, "");

  const bad = path.join(dir, "bad.json");
  fs.writeFileSync(bad, '{\n  "a": "json-token-7q2z",\n  oops\n}');
  r = await cli(["file", "encrypt", "--key-file", key, bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /line 3/);
  noSecretIn(r.stderr, "a parse error");
  r = await cli(["file", "decrypt", "--key-file", key, file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /not encrypted/);
  r = await cli(["file", "encrypt", "--key-file", key, path.join(dir, "notes.txt")]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--format/);
  r = await cli(["file", "encrypt", file], { env: { KEYHOLD_FILE_KEY: "" } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no file key/);
});

test("KEYHOLD_FILE_KEY and standard input", async () => {
  const k = fs.readFileSync(key, "utf8").trim();
  const r = await cli(["file", "encrypt", "--format", "env", "-"], { env: { KEYHOLD_FILE_KEY: k }, input: "A=env-pass-9f3k\n" });
  assert.equal(r.code, 0, r.stderr);
  noSecretIn(r.stdout, "stdout");
  const back = await cli(["file", "decrypt", "--format", "env", "-"], { env: { KEYHOLD_FILE_KEY: k }, input: r.stdout });
  assert.equal(back.stdout, "A=env-pass-9f3k\n");
  const big = await cli(["file", "encrypt", "--format", "env", "-"], { env: { KEYHOLD_FILE_KEY: k }, input: "A=" + "x".repeat(17 << 20) });
  assert.equal(big.code, 2);
  assert.match(big.stderr, /larger than 16 MiB/);
  assert.equal(big.stdout, "");
});

let s;
after(async () => {
  if (s) {
    await s.stop();
    noSecretIn(s.stdout + s.stderr, "the server log");
  }
});

test("a key kept in keyhold's secrets: keygen --secret, encrypt --key-secret", async () => {
  s = await new Server().start();
  const env = { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: s.rootKey };
  let r = await cli(["file", "keygen", "--secret", "secret/ci/files"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /secret\/ci\/files#key/);
  r = await cli(["file", "keygen", "--secret", "secret/ci/files"], { env });
  assert.equal(r.code, 3, "an existing key is not replaced");
  const file = path.join(dir, "server.env");
  fs.writeFileSync(file, "TOKEN=env-pass-9f3k\n");
  r = await cli(["file", "encrypt", "--key-secret", "secret/ci/files#key", "-i", file], { env });
  assert.equal(r.code, 0, r.stderr);
  r = await cli(["file", "decrypt", "--key-secret", "secret/ci/files", file], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "TOKEN=env-pass-9f3k\n");
  r = await cli(["file", "decrypt", "--key-secret", "secret/ci/none#key", file], { env });
  assert.equal(r.code, 3);
  r = await cli(["file", "decrypt", "--key-secret", "secret/ci/files#key", file], {
    env: { KEYHOLD_ADDR: "http://127.0.0.1:1", KEYHOLD_TOKEN: s.rootKey },
  });
  assert.equal(r.code, 3);
});

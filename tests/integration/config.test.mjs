// deploy/keyhold.toml, the annotated example configuration, and `keyhold serve --check-config`.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Server, cli, tempDir } from "../lib/keyhold.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const example = path.join(root, "deploy/keyhold.toml");

test("the example configuration sets every setting serve has, each with a comment", async () => {
  const help = await cli(["serve", "--help"]);
  const flags = new Set([...help.stdout.matchAll(/^\s+--([a-z][a-z-]+)/gm)].map((m) => m[1].replaceAll("-", "_")));
  for (const notSetting of ["help", "config", "check_config"]) flags.delete(notSetting);
  assert.ok(flags.size >= 45, [...flags].join(" "));
  const lines = fs.readFileSync(example, "utf8").split("\n");
  const keys = [];
  lines.forEach((line, i) => {
    const m = /^([a-z_]+) = /.exec(line);
    if (!m) return;
    keys.push(m[1]);
    assert.match(lines[i - 1], /^# /, `${m[1]} has a comment above it`);
  });
  assert.deepEqual([...keys].sort(), [...flags].sort(), "every setting, once, and nothing else");
});

test("--check-config accepts the example and exits without serving", async () => {
  const data = path.join(tempDir("check"), "data");
  const r = await cli(["serve", "--check-config", example, "--data-dir", data]);
  assert.equal(r.code, 0, r.stderr);
  // Every setting the file sets, but data_dir, given as a flag.
  const set = fs.readFileSync(example, "utf8").match(/^[a-z_]+ = /gm).length;
  assert.match(r.stdout, new RegExp(`keyhold\\.toml: ok \\(${set - 1} settings from the file`));
  assert.ok(!fs.existsSync(data), "nothing created");
});

test("--check-config reports every problem with its line and exits 2", async () => {
  const dir = tempDir("check");
  const file = path.join(dir, "bad.toml");
  fs.writeFileSync(file, [
    "# a comment",
    'listen = "nohost"',
    "threads = 0",
    'read_timeout = "30x"',
    'colour = "blue"',
    "access_log = true",
    'usage_recording = "yes"',
    'tls_cert = "/nonexistent/cert.pem"',
    "webhook_max_attempts = [1]",
    'metrics_access = "everyone"',
    'anomaly_baseline = "2d"',
  ].join("\n") + "\n");
  const r = await cli(["serve", "--check-config", file, "--listen", "127.0.0.1:1"], {
    env: { KEYHOLD_IDLE_TIMEOUT: "soon" },
  });
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  const got = r.stderr.trim().split("\n");
  assert.deepEqual(got, [
    "KEYHOLD_IDLE_TIMEOUT: idle_timeout: 'soon' is not a duration such as 30s or 500ms",
    `${file}:3: threads must be 1 to 256`,
    `${file}:4: read_timeout: '30x' has an unknown unit: use ms, s, m, h or d`,
    `${file}:5: unknown setting 'colour'`,
    `${file}:7: usage_recording must be true or false`,
    `${file}:8: tls_cert and tls_key go together`,
    `${file}:8: cannot read /nonexistent/cert.pem: No such file or directory`,
    `${file}:9: webhook_max_attempts must be a string, integer or boolean`,
    `${file}:10: metrics_access must be loopback, open or root-key`,
    `${file}:11: anomaly_baseline: must be at most 24h`,
    "10 problems; nothing served",
  ]);
  // The flag won over the file's bad listen: no problem reported for line 2.

  const syntax = path.join(dir, "syntax.toml");
  fs.writeFileSync(syntax, 'listen = "127.0.0.1:1"\nthreads = = 2\n');
  const s = await cli(["serve", "--check-config", syntax]);
  assert.equal(s.code, 2);
  assert.match(s.stderr, new RegExp(`^${syntax.replaceAll(".", "\\.")}:2: `));
});

test("a server starts from the example configuration", async () => {
  const s = await new Server({ args: ["--config", example] }).start();
  try {
    assert.equal((await fetch(`${s.url}/health/live`)).status, 200);
    const api = await s.ok("apis.createApi", { name: "from-example" });
    assert.match(api.apiId, /^api_/);
  } finally {
    await s.stop();
  }
});

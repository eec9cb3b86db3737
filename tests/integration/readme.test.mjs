// The README's quick start, run as written: its blocks marked `sh quickstart` (bash, in order, one
// shell so variables carry over) and `js file=NAME` (written to NAME first), in a fresh directory
// against a fresh server with a temp data dir. The only change made to the text is the server's
// address: 127.0.0.1:8080 becomes the test server's free port. `keyhold` is on PATH as
// scripts/install puts it there; the root key is typed on standard input as a user would paste it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BIN, Server, tempDir } from "../lib/keyhold.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");

// Every fenced block: { info, body } in document order.
function blocks(text) {
  const out = [];
  const re = /^```([^\n]*)\n([\s\S]*?)^```$/gm;
  for (let m; (m = re.exec(text)); ) out.push({ info: m[1].trim(), body: m[2] });
  return out;
}

function runBash(script, { cwd, env, input }) {
  return new Promise((resolve) => {
    const p = spawn("bash", ["-c", script], { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("exit", (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(input);
  });
}

test("the README starts with the two commands: run the server, run the tests", () => {
  const first = blocks(readme)[0];
  const commands = first.body.split("\n").map((l) => l.split("#")[0].trim()).filter(Boolean);
  assert.deepEqual(commands.slice(0, 2), ["scripts/run", "scripts/test"]);
});

test("scripts/install puts the built binary on a prefix's bin", { skip: !fs.existsSync(path.join(root, "build/release/keyhold")) && "no release build" }, () => {
  const prefix = tempDir("prefix");
  execFileSync(path.join(root, "scripts/install"), [prefix], { stdio: "pipe" });
  const installed = path.join(prefix, "bin", "keyhold");
  assert.equal(fs.statSync(installed).mode & 0o777, 0o755);
  assert.match(execFileSync(installed, ["--version"]).toString(), /^\d+\.\d+\.\d+/);
  assert.match(fs.readFileSync(path.join(root, "scripts/run"), "utf8"), /^scripts\/install/m);
});

test("the quick start runs as written against a fresh server", async () => {
  const all = blocks(readme);
  const steps = all.filter((b) => /^sh\b.*\bquickstart\b/.test(b.info) || /^js\b.*\bfile=/.test(b.info));
  assert.ok(steps.length >= 4, "the README marks its quick-start blocks");

  const s = await new Server().start();
  try {
    // What the README shows of the first start is what the server prints.
    assert.match(s.stdout, /^Created the first root key\. It holds every permission and is shown only this once:\n  root key id: key_\w+\n  root key:    khr_\w+\n/);
    assert.ok(readme.includes("Created the first root key. It holds every permission and is shown only this once:"));

    const work = tempDir("readme");
    const bin = path.join(work, ".bin");
    fs.mkdirSync(bin);
    fs.symlinkSync(BIN, path.join(bin, "keyhold"));
    const address = s.url.replace(/^https?:\/\//, "");
    let script = "set -euo pipefail\n";
    for (const b of steps) {
      const body = b.body.replaceAll("127.0.0.1:8080", address);
      const file = /\bfile=(\S+)/.exec(b.info);
      if (file) {
        fs.writeFileSync(path.join(work, file[1]), body);
      } else {
        script += body + "\n";
      }
    }
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, npm_config_prefer_offline: "true" };
    delete env.KEYHOLD_ADDR;
    delete env.KEYHOLD_TOKEN;
    const r = await runBash(script, { cwd: work, env, input: s.rootKey + "\n" });
    // Keys the blocks print are masked before anything is reported.
    const mask = (t) => t.replace(/\b(khr|hd|smtp)_[A-Za-z0-9]{20,}/g, "$1_[key]");
    const out = mask(r.stdout);
    assert.equal(r.code, 0, `quick start failed:\n${out}\n${mask(r.stderr)}`);
    assert.match(out, /^\{"meta":\{"requestId":"req_\w+"\},"data":\{"apiId":"api_\w+"\}\}$/m);
    assert.match(out, /^\{"meta":.*"code":"VALID","credits":999,.*"valid":true\}\}$/m);
    assert.match(out, /^VALID\s+key_/m); // keys verify
    assert.match(out, /^revoked \d+ keys/m);
    assert.match(out, /^valid VALID key_/m); // the SDK program
    // Both ids created from the command line exist, and the curl-made key spent one credit.
    const apis = (await s.ok("apis.listKeys", { apiId: /"apiId":"(api_\w+)"/.exec(out)[1] }));
    assert.equal(apis.length, 1);
    assert.equal(apis[0].credits.remaining, 998); // curl's verify and the SDK's
  } finally {
    await s.stop();
  }
});

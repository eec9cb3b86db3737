// deploy/: the systemd unit (systemd-analyze verify and security), the server and the scanner under
// MemoryDenyWriteExecute's rule, and the container image definition. No Docker daemon runs here, so
// the Dockerfile is checked by reading it: its stages, user, volume, health check, and that it
// installs the package of every library the binary links.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BIN, Server, cli, tempDir } from "../lib/keyhold.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const unitText = fs.readFileSync(path.join(root, "deploy/keyhold.service"), "utf8");
const dockerfile = fs.readFileSync(path.join(root, "deploy/Dockerfile"), "utf8");
const example = fs.readFileSync(path.join(root, "deploy/keyhold.toml"), "utf8");

function have(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

// The unit's [Service] settings: name -> every value given.
function unitSettings(text) {
  const out = new Map();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
  }
  return out;
}

test("the systemd unit has the sandbox a secrets service needs, and agrees with the example config", () => {
  const u = unitSettings(unitText);
  for (const [k, v] of [["NoNewPrivileges", "yes"], ["ProtectSystem", "strict"], ["ReadWritePaths", "/var/lib/keyhold"],
    ["PrivateTmp", "yes"], ["LimitCORE", "0"], ["MemoryDenyWriteExecute", "yes"], ["User", "keyhold"],
    ["StateDirectoryMode", "0700"], ["CapabilityBoundingSet", ""]]) {
    assert.deepEqual(u.get(k), [v], k);
  }
  assert.match(example, /^data_dir = "\/var\/lib\/keyhold"$/m);
  assert.deepEqual(u.get("ExecStartPre"), ["/usr/local/bin/keyhold serve --check-config /etc/keyhold/keyhold.toml"]);
  assert.match(u.get("Environment")[0], /KEYHOLD_CONFIG=\/etc\/keyhold\/keyhold\.toml/);
});

test("systemd-analyze verify and security accept the unit", () => {
  assert.ok(have("systemd-analyze"),
    "systemd-analyze is missing: install the systemd package (scripts/setup --test installs it)");
  // A root with the unit, the binary where ExecStart names it, and the system's own units.
  const r = tempDir("unit");
  fs.mkdirSync(path.join(r, "usr/local/bin"), { recursive: true });
  fs.mkdirSync(path.join(r, "etc/systemd/system"), { recursive: true });
  fs.mkdirSync(path.join(r, "usr/lib/systemd"), { recursive: true });
  fs.copyFileSync(BIN, path.join(r, "usr/local/bin/keyhold"));
  fs.chmodSync(path.join(r, "usr/local/bin/keyhold"), 0o755);
  fs.writeFileSync(path.join(r, "etc/systemd/system/keyhold.service"), unitText);
  execFileSync("cp", ["-a", "/usr/lib/systemd/system", path.join(r, "usr/lib/systemd/system")]);
  const v = spawnSync("systemd-analyze", ["verify", `--root=${r}`, "keyhold.service"], { encoding: "utf8" });
  const about = (v.stderr + v.stdout).split("\n").filter((l) => l.includes("keyhold"));
  assert.equal(v.status, 0, v.stderr);
  assert.deepEqual(about, [], "no warning about the unit");

  const s = spawnSync("systemd-analyze", ["security", "--offline=yes", `--root=${r}`, "keyhold.service"], { encoding: "utf8" });
  const m = /Overall exposure level for keyhold\.service: ([\d.]+)/.exec(s.stdout + s.stderr);
  assert.ok(m, s.stdout + s.stderr);
  assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]}`);
  fs.rmSync(r, { recursive: true, force: true });
});

// Runs `args` with the kernel's memory-deny-write-execute rule (PR_SET_MDWE, Linux 6.3+), which is
// what systemd's MemoryDenyWriteExecute=yes applies: no mapping both writable and executable, no
// mprotect adding execute. The wrapper is compiled here from a few lines of C.
function mdweWrapper() {
  const dir = tempDir("mdwe");
  const src = path.join(dir, "mdwe.c");
  fs.writeFileSync(src, `#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (argc < 2) return 125;
  if (prctl(65 /* PR_SET_MDWE */, 1 /* PR_MDWE_REFUSE_EXEC_GAIN */, 0, 0, 0) != 0) {
    perror("PR_SET_MDWE");
    return 125;
  }
  execv(argv[1], argv + 1);
  perror("execv");
  return 126;
}
`);
  execFileSync("cc", ["-o", path.join(dir, "mdwe"), src]);
  return path.join(dir, "mdwe");
}

test("the server and the scanner run under MemoryDenyWriteExecute", async (t) => {
  assert.ok(have("cc"), "cc is missing: scripts/setup installs build-essential");
  const mdwe = mdweWrapper();
  const probe = spawnSync(mdwe, ["/bin/true"], { encoding: "utf8" });
  if (probe.status === 125) {
    t.skip(`this kernel has no PR_SET_MDWE (Linux 6.3+): ${probe.stderr.trim()}`);
    return;
  }
  // The rule is really applied: V8's JIT cannot run under it.
  const jit = spawnSync(mdwe, [process.execPath, "-e", "for (let i = 0; i < 1e6; i++) Math.sqrt(i)"], { encoding: "utf8" });
  assert.notEqual(jit.status, 0, "node's JIT must fail under the rule");

  // The server: starts, creates and verifies a key (OpenSSL, jemalloc, SQLite).
  const bin = BIN;
  const data = path.join(tempDir("mdwe-data"), "data");
  const s = new Server({ dataDir: data }); // only its client: the process is started here, wrapped
  const proc = spawn(mdwe, [bin, "serve", "--data-dir", data, "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d) => (stdout += d));
  proc.stderr.on("data", (d) => (stderr += d));
  try {
    const started = Date.now();
    while (!/listening on http:\/\/(\S+)/.test(stderr)) {
      assert.equal(proc.exitCode, null, `the server exited under the rule: ${stderr}`);
      assert.ok(Date.now() - started < 15000, `no start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    s.url = `http://${/listening on http:\/\/(\S+)/.exec(stderr)[1]}`;
    s.rootKey = /root key:\s+(\S+)/.exec(stdout)[1];
    const { apiId } = await s.ok("apis.createApi", { name: "mdwe" });
    const { key } = await s.ok("keys.createKey", { apiId, prefix: "mdwe" });
    assert.equal((await s.ok("keys.verifyKey", { key })).valid, true);

    // The scanner: compiles its Vectorscan databases and finds the key in a file.
    const tree = tempDir("mdwe-scan");
    fs.writeFileSync(path.join(tree, "settings.env"), `API_KEY=${key}\n`);
    const scan = spawnSync(mdwe, [bin, "scan", tree, "--format", "json"], { encoding: "utf8" });
    assert.equal(scan.status, 1, scan.stderr);
    assert.ok(scan.stdout.includes("settings.env"), "the key is found");
    assert.ok(!scan.stdout.includes(key), "and shown masked");
  } finally {
    proc.kill("SIGTERM");
    await new Promise((r) => proc.on("exit", r));
  }
});

// The Dockerfile's instructions, continuation lines joined: [{ op, args, stage }].
function instructions(text) {
  const out = [];
  let stage = -1;
  const joined = text.replace(/\\\n/g, " ").split("\n");
  for (const line of joined) {
    const m = /^([A-Z]+)\s+(.*)$/.exec(line.trim());
    if (!m || line.trim().startsWith("#")) continue;
    if (m[1] === "FROM") stage += 1;
    out.push({ op: m[1], args: m[2].replace(/\s+/g, " ").trim(), stage });
  }
  return out;
}

test("the Dockerfile: Debian, multi-stage, non-root, data in a volume, health check on liveness", async () => {
  const ins = instructions(dockerfile);
  const froms = ins.filter((i) => i.op === "FROM");
  assert.ok(froms.length >= 2, "multi-stage");
  for (const f of froms) assert.match(f.args, /^debian:12(-slim)?\b/);
  const last = froms.length - 1;
  const final = ins.filter((i) => i.stage === last);
  const user = final.filter((i) => i.op === "USER").at(-1);
  assert.ok(user && !/^(root|0)(:|$)/.test(user.args), "runs as a non-root user");
  const volume = final.find((i) => i.op === "VOLUME");
  assert.match(volume.args, /\/var\/lib\/keyhold/);
  const env = final.filter((i) => i.op === "ENV").map((i) => i.args).join(" ");
  assert.match(env, /KEYHOLD_DATA_DIR=\/var\/lib\/keyhold/);
  assert.match(env, /KEYHOLD_LISTEN=0\.0\.0\.0:8080/);
  assert.ok(final.some((i) => i.op === "EXPOSE" && i.args === "8080"));
  const hc = final.find((i) => i.op === "HEALTHCHECK");
  assert.match(hc.args, /http:\/\/127\.0\.0\.1:8080\/health\/live/);
  assert.ok(final.some((i) => i.op === "COPY" && /--from=\S+ \S*keyhold \/usr\/local\/bin\/keyhold/.test(i.args)));
  assert.ok(final.some((i) => i.op === "COPY" && /deploy\/keyhold\.toml \/etc\/keyhold\/keyhold\.toml/.test(i.args)));
  const installs = final.filter((i) => i.op === "RUN").map((i) => i.args).join(" ");
  assert.match(installs, /install -d -m 0700 -o keyhold -g keyhold \/var\/lib\/keyhold/);
  assert.match(installs, /curl/, "the health check's curl is installed");
  // Not keyhold as PID 1: an init reaps what a rotation command left behind.
  assert.match(installs, /\btini\b/, "tini is installed");
  const entry = final.filter((i) => i.op === "ENTRYPOINT").at(-1);
  assert.deepEqual(JSON.parse(entry.args).slice(0, 3), ["/usr/bin/tini", "--", "/usr/local/bin/keyhold"]);

  // Every library the release binary links directly comes from a package the image installs (or
  // one every Debian image has).
  const release = path.join(root, "build/release/keyhold");
  if (!fs.existsSync(release) || !have("readelf")) return;
  const needed = [...execFileSync("readelf", ["-d", release]).toString().matchAll(/\(NEEDED\).*\[(.+)\]/g)].map((m) => m[1]);
  const base = new Set(["libc6", "libgcc-s1", "libstdc++6", "zlib1g"]);
  for (const lib of needed) {
    const file = execFileSync("sh", ["-c", `ldd ${release} | awk '$1 == "${lib}" { print $3 }'`]).toString().trim();
    // dpkg knows each file by the path its package installed it at: /lib or /usr/lib.
    const candidates = [file, fs.realpathSync(file)].flatMap((f) => [f, f.replace(/^\/usr\/lib\//, "/lib/"), f.replace(/^\/lib\//, "/usr/lib/")]);
    const owner = candidates.map((f) => spawnSync("dpkg", ["-S", f], { encoding: "utf8" })).find((r) => r.status === 0);
    assert.ok(owner, `no package owns ${file}`);
    const pkg = owner.stdout.split(":")[0];
    if (base.has(pkg)) continue;
    assert.match(installs, new RegExp(`\\b${pkg.replace(/[.+]/g, "\\$&")}\\b`), `${lib} comes from ${pkg}`);
  }
});

test("docs/deploy.md names the build command and every deploy file", async () => {
  const doc = fs.readFileSync(path.join(root, "docs/deploy.md"), "utf8");
  assert.ok(doc.includes("docker build -f deploy/Dockerfile -t keyhold ."));
  assert.ok(dockerfile.includes("docker build -f deploy/Dockerfile -t keyhold ."));
  for (const f of ["deploy/keyhold.service", "deploy/keyhold.toml", "deploy/Dockerfile"]) assert.ok(doc.includes(f), f);
  for (const topic of ["TLS", "trusted_proxies", "Backups", "master key", "Upgrading", "monitor"]) {
    assert.ok(doc.includes(topic), topic);
  }
  // The nginx block's address is the example's.
  assert.match(example, /^listen = "127\.0\.0\.1:8080"$/m);
  assert.ok(doc.includes("proxy_pass http://127.0.0.1:8080;"));
  const help = await cli(["serve", "--help"]);
  assert.match(help.stdout, /--check-config/);
});

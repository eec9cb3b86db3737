// Test harness: starts the keyhold binary named by KEYHOLD_BIN on an ephemeral port in a temp
// data directory, and talks to it over real HTTP(S).
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const BIN = process.env.KEYHOLD_BIN;
if (!BIN) throw new Error("set KEYHOLD_BIN to the keyhold binary under test");

export function tempDir(name = "keyhold") {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
}

// Every plaintext key the suite sees, for the leak check.
export const issuedKeys = new Set();
// Every response body the suite sees, for the leak check.
export const responseBodies = [];

function waitFor(predicate, what, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
      const v = predicate();
      if (v) return resolve(v);
      if (Date.now() - start > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

// Polls `check` (async; throws while its condition does not hold) until it passes or `timeoutMs`
// runs out, then rethrows its last error. For state the server reaches asynchronously (a flush,
// a delivery), so a test waits as long as a loaded machine needs and no longer.
export async function eventually(check, timeoutMs = 10000, everyMs = 50) {
  const start = Date.now();
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() - start > timeoutMs) throw e;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

// Servers still running when the test process exits (a test that failed before its stop()) are
// killed then, and do not hold the process open meanwhile.
const running = new Set();
process.on("exit", () => {
  for (const proc of running) proc.kill("SIGKILL");
});

// One /v1/ (Vault API) request to server `s` as `token` (its root key by default): the status
// and the parsed answer (undefined when empty).
export async function vaultRequest(s, method, p, body, token = s.rootKey) {
  const headers = { "content-type": "application/json" };
  if (token) headers["x-vault-token"] = token;
  const res = await fetch(`${s.url}/v1/${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export class Server {
  // `listen`: the address to serve on; by default any free port on 127.0.0.1.
  constructor({ dataDir, args = [], env = {}, listen = "127.0.0.1:0" } = {}) {
    this.dataDir = dataDir ?? path.join(tempDir(), "data");
    this.listen = listen;
    this.args = args;
    this.env = env;
    this.stdout = "";
    this.stderr = "";
  }

  async start() {
    this.stdout = "";
    this.stderr = "";
    this.proc = spawn(BIN, ["serve", "--data-dir", this.dataDir, "--listen", this.listen, ...this.args], {
      env: { ...process.env, ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc.stdout.on("data", (d) => (this.stdout += d));
    this.proc.stderr.on("data", (d) => (this.stderr += d));
    const proc = this.proc;
    running.add(proc);
    proc.unref(); // a forgotten server does not keep the test process alive; `exited` re-refs it
    proc.stdout.unref();
    proc.stderr.unref();
    this._exited = new Promise((resolve) =>
      proc.on("exit", (code, signal) => {
        running.delete(proc);
        resolve({ code, signal });
      }),
    );
    const m = await waitFor(() => /listening on (https?):\/\/([^ ]+)/.exec(this.stderr) || (this.proc.exitCode !== null && "exit"), "server start");
    if (m === "exit") throw new Error(`server exited: ${this.stderr}`);
    this.url = `${m[1]}://${m[2]}`;
    this.port = Number(m[2].split(":").pop());
    const root = /root key:\s+(\S+)/.exec(this.stdout);
    if (root) {
      this.rootKey = root[1];
      issuedKeys.add(this.rootKey);
    }
    return this;
  }

  // Resolves with { code, signal } when the server exits; while awaited, keeps the test running.
  get exited() {
    this.proc?.ref();
    return this._exited;
  }

  async stop(signal = "SIGTERM") {
    if (!this.proc || this.proc.exitCode !== null) return this.exited;
    const exited = this.exited;
    this.proc.kill(signal);
    return exited;
  }

  // POSTs to /v2/<op>; returns { status, body, headers }.
  async call(op, body, token = this.rootKey, { raw, headers = {} } = {}) {
    const h = { "content-type": "application/json", ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    const payload = raw !== undefined ? raw : JSON.stringify(body ?? {});
    if (this.url.startsWith("https")) return httpsPost(`${this.url}/v2/${op}`, payload, h, this.ca);
    const res = await fetch(`${this.url}/v2/${op}`, { method: "POST", headers: h, body: payload });
    const text = await res.text();
    return { status: res.status, body: recordBody(text), text, headers: res.headers };
  }

  // Shorthand: calls and expects 200; returns data.
  async ok(op, body, token) {
    const r = await this.call(op, body, token);
    if (r.status !== 200) throw new Error(`${op} -> ${r.status}: ${r.text}`);
    return r.body.data;
  }
}

// Keeps every response body (the suite checks none holds a key) and every key issued; returns
// the parsed body, or undefined if it is not JSON.
function recordBody(text) {
  responseBodies.push(text);
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const d = json?.data;
  if (d && typeof d.key === "string" && d.keyId) issuedKeys.add(d.key);
  return json;
}

export function httpsPost(url, payload, headers, ca, tlsOptions = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: "POST", headers, ca, ...tlsOptions }, (res) => {
      const tls = res.socket?.getProtocol?.();
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => {
        resolve({ status: res.statusCode, body: recordBody(text), text, headers: res.headers, tls });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

// A self-signed certificate for 127.0.0.1 / localhost.
export function selfSignedCert(dir) {
  const key = path.join(dir, "tls.key");
  const cert = path.join(dir, "tls.crt");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ], { stdio: "ignore" });
  return { key, cert, ca: fs.readFileSync(cert) };
}

// Runs the CLI; returns { code, stdout, stderr }.
export function cli(args, { env = {}, input, cwd } = {}) {
  return new Promise((resolve) => {
    const p = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"], cwd });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("exit", (code) => resolve({ code, stdout, stderr }));
    p.on("error", (e) => resolve({ code: null, stdout, stderr: stderr + String(e) }));
    p.stdin.on("error", () => {}); // a command that exits before reading its input
    p.stdin.end(input ?? "");
  });
}

// Writes `raw` on a fresh connection to 127.0.0.1:`port`; resolves with everything read until the
// server closes it or `ms` pass.
export function rawExchange(port, raw, ms = 3000) {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    let out = "";
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(out);
    }, ms);
    sock.on("data", (d) => (out += d.toString("latin1")));
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
    sock.on("error", () => {});
    sock.write(raw);
  });
}

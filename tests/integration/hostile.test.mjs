// Hostile and broken clients: request smuggling, heads too large, unknown methods, absolute-form
// targets, slow-loris connections, connection floods and running out of descriptors. Each is
// answered in the format of the surface owning the path, with a request id and an access log
// line, and none of them reaches a handler or keeps others from being served.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import { Server, selfSignedCert, tempDir, rawExchange, eventually } from "../lib/keyhold.mjs";

let s;

before(async () => {
  s = await new Server().start();
});
after(async () => {
  const { code } = await s.stop();
  assert.equal(code, 0);
});

// A connection kept open across requests (over TLS with connect = tls.connect).
class RawConnection {
  constructor(port, options = {}, connect = net.connect) {
    this.sock = connect({ port, host: "127.0.0.1", ...options });
    this.buffer = "";
    this.closed = new Promise((resolve) => this.sock.on("close", resolve));
    this.sock.on("close", () => {
      this.isClosed = true;
      this.wake?.();
    });
    this.sock.on("data", (d) => {
      this.buffer += d.toString("latin1");
      this.wake?.();
    });
    this.sock.on("error", () => {});
  }
  connected() {
    return new Promise((resolve) => this.sock.once("connect", resolve));
  }
  // Sends `raw` and resolves with the next whole response (head and Content-Length body), or with
  // whatever arrived (perhaps "") if the server closes the connection first.
  async request(raw) {
    if (!this.isClosed) this.sock.write(raw);
    for (;;) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end >= 0) {
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(this.buffer.slice(0, end))?.[1] ?? 0);
        if (this.buffer.length >= end + 4 + length) {
          const response = this.buffer.slice(0, end + 4 + length);
          this.buffer = this.buffer.slice(end + 4 + length);
          return response;
        }
      }
      if (this.isClosed) return this.buffer;
      await new Promise((resolve) => (this.wake = resolve));
    }
  }
  destroy() {
    this.sock.destroy();
  }
}

const status = (response) => Number(response.slice(9, 12));
const headerOf = (response, name) =>
  new RegExp(`\\r\\n${name}: ([^\\r]*)`, "i").exec(response.slice(0, response.indexOf("\r\n\r\n")))?.[1];
const bodyOf = (response) => JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4));
const responsesIn = (raw) => raw.split("HTTP/1.1 ").length - 1;

// Asserts `response` is a refusal with `code` in the error format of the surface `surface`, with
// its request id in X-Request-Id and in a line of `server`'s access log.
async function assertRefused(server, response, code, surface) {
  assert.equal(status(response), code, response);
  const id = headerOf(response, "x-request-id");
  assert.match(id ?? "", /^req_/, response);
  const body = bodyOf(response);
  if (surface === "unkey") {
    assert.equal(body.meta.requestId, id);
    assert.equal(body.error.status, code);
  } else if (surface === "vault") {
    assert.deepEqual(Object.keys(body), ["errors"]);
  } else {
    assert.equal(body.error.requestId, id);
    assert.equal(body.error.status, code);
  }
  // The access log line arrives on the server's stderr pipe, possibly after the response.
  await eventually(() => {
    const line = server.stderr.split("\n").find((l) => l.includes(id));
    assert.match(line ?? "", new RegExp(` ${code} \\d+us `), `access log line for ${id}`);
  }, 5000);
  return body;
}

// Runs `fn` against a server of its own started with `args`, which must then stop cleanly.
async function withServer(args, fn) {
  const srv = await new Server({ args }).start();
  try {
    await fn(srv);
  } finally {
    const { code } = await srv.stop();
    assert.equal(code, 0, srv.stderr.slice(-2000));
  }
}

const liveness = (extra = "") => `GET /v2/liveness HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

test("a request hidden in the body of one whose framing cannot be trusted never runs", async () => {
  const smuggled = "POST /v2/keys.createKey HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
  const cases = [
    ["Transfer-Encoding: gzip\r\n", 400],
    ["Transfer-Encoding: chunked, gzip\r\n", 400],
    ["Transfer-Encoding: chunked\r\nContent-Length: 44\r\n", 400],
    ["Content-Length: 44\r\nTransfer-Encoding: chunked\r\n", 400],
    ["Content-Length: 44\r\nTransfer-Encoding: gzip\r\n", 400],
    ["Content-Length: 44\r\nContent-Length: 45\r\n", 400],
    ["Transfer-Encoding: gzip, chunked\r\n", 501],
  ];
  for (const [fields, code] of cases) {
    const raw = await rawExchange(s.port, `POST /v2/liveness HTTP/1.1\r\nHost: x\r\n${fields}\r\n${smuggled}`);
    assert.equal(responsesIn(raw), 1, `${fields}: one answer, then the connection closes:\n${raw}`);
    const body = await assertRefused(s, raw, code, "unkey");
    if (code === 400) assert.match(body.error.type, /invalid_input$/);
  }
  const raw = await rawExchange(s.port, `POST /v1/sys/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n${smuggled}`);
  assert.equal(responsesIn(raw), 1, raw);
  await assertRefused(s, raw, 400, "vault");
  // The smuggled createKey would have needed a root key; the log shows it was never even routed.
  assert.doesNotMatch(s.stderr, /POST \/v2\/keys\.createKey/);
});

test("a header value folded onto a second line is 400 in the format of the path's owner", async () => {
  const folded = "X-Note: first\r\n  second\r\n";
  let raw = await rawExchange(s.port, `POST /v2/keys.createKey HTTP/1.1\r\nHost: x\r\n${folded}Content-Length: 2\r\n\r\n{}`);
  assert.equal(responsesIn(raw), 1, raw);
  let body = await assertRefused(s, raw, 400, "unkey");
  assert.match(body.error.detail, /line folding/);
  raw = await rawExchange(s.port, `GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n\tb\r\n\r\n`);
  body = await assertRefused(s, raw, 400, "vault");
  assert.match(body.errors[0], /line folding/);
});

test("a body in a content coding is 415 naming the coding, in the format of the path's owner", async () => {
  const gzipped = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xab\xae\x05\x00\x43\xbf\xa6\xa3\x02\x00\x00\x00";
  let raw = await rawExchange(s.port, Buffer.from(`POST /v2/apis.listApis HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.rootKey}\r\n` +
    `Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: ${gzipped.length}\r\n\r\n${gzipped}`, "latin1"));
  let body = await assertRefused(s, raw, 415, "unkey");
  assert.equal(body.error.title, "Unsupported Media Type");
  assert.match(body.error.type, /unsupported_content_encoding$/);
  assert.match(body.error.detail, /Content-Encoding gzip is not supported/);
  raw = await rawExchange(s.port, "PUT /v1/secret/data/app HTTP/1.1\r\nHost: x\r\nContent-Encoding: br\r\n" +
    "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
  body = await assertRefused(s, raw, 415, "vault");
  assert.match(body.errors[0], /Content-Encoding br is not supported/);
  // Nothing is coded without a body: such a request is served.
  raw = await rawExchange(s.port, liveness("Content-Encoding: gzip\r\nConnection: close\r\n"));
  assert.equal(status(raw), 200, raw);
});

test("a chunked body counts against the body limit", async () => {
  const chunk = (n) => `${n.toString(16)}\r\n${"a".repeat(n)}\r\n`;
  const raw = await rawExchange(s.port,
    `POST /v2/keys.createKey HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(600 * 1024).repeat(2)}0\r\n\r\n`);
  const body = await assertRefused(s, raw, 413, "unkey");
  assert.match(body.error.type, /request_body_too_large$/);
});

test("heads too large are 431, a request line too long is 414", async () => {
  let raw = await rawExchange(s.port, liveness(`X-Big: ${"a".repeat(100 * 1024)}\r\n`));
  let body = await assertRefused(s, raw, 431, "unkey");
  assert.equal(body.error.title, "Request Header Fields Too Large");
  const many = Array.from({ length: 1000 }, (_, i) => `X-H${i}: v\r\n`).join("");
  raw = await rawExchange(s.port, `GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n${many}\r\n`);
  body = await assertRefused(s, raw, 431, "vault");
  assert.match(body.errors[0], /at most 100 header fields/);
  raw = await rawExchange(s.port, `GET /v2/${"a".repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  body = await assertRefused(s, raw, 414, "unkey");
  assert.match(body.error.type, /request_target_too_long$/);
});

test("unknown methods are 501 in the format of the path's owner; known ones stay the surface's 405", async () => {
  let raw = await rawExchange(s.port, "FOO /v2/liveness HTTP/1.1\r\nHost: x\r\n\r\n");
  let body = await assertRefused(s, raw, 501, "unkey");
  assert.equal(body.error.title, "Not Implemented");
  raw = await rawExchange(s.port, "FOO /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n");
  await assertRefused(s, raw, 501, "vault");
  raw = await rawExchange(s.port, "FOO /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
  await assertRefused(s, raw, 501, "plain");
  raw = await rawExchange(s.port, "DELETE /v1/sys/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  assert.equal(status(raw), 405, raw);
  raw = await rawExchange(s.port, "GET /v2/keys.verifyKey HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  assert.equal(status(raw), 405, raw);
});

test("absolute-form targets are routed by their path; the asterisk is for OPTIONS only", async () => {
  const c = new RawConnection(s.port);
  let r = await c.request(`GET http://127.0.0.1:${s.port}/v2/liveness HTTP/1.1\r\nHost: elsewhere\r\n\r\n`);
  assert.equal(status(r), 200, r);
  assert.equal(bodyOf(r).data.message, "OK");
  r = await c.request(`GET HTTP://example.com/v1/sys/health?standbyok=true HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.equal(status(r), 200, r);
  assert.equal(bodyOf(r).initialized, true);
  r = await c.request("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(status(r), 200, r);
  assert.match(headerOf(r, "allow"), /LIST/);
  c.destroy();
  const raw = await rawExchange(s.port, "GET * HTTP/1.1\r\nHost: x\r\n\r\n");
  await assertRefused(s, raw, 400, "plain");
});

test("past max_connections a new connection gets a plain 503 and the others are still served", async () => {
  await withServer(["--max-connections", "4"], async (srv) => {
    const held = Array.from({ length: 4 }, () => new RawConnection(srv.port));
    for (const c of held) assert.equal(status(await c.request(liveness())), 200);
    const raw = await rawExchange(srv.port, liveness());
    const body = await assertRefused(srv, raw, 503, "plain");
    assert.equal(body.error.reason, "application/service_unavailable");
    assert.match(body.error.message, /limit of 4 open connections/);
    assert.equal(headerOf(raw, "retry-after"), "1");
    for (const c of held) assert.equal(status(await c.request(liveness())), 200);
    held.pop().destroy();
    let served = false;
    for (let i = 0; i < 100 && !served; i++) {
      served = status(await rawExchange(srv.port, liveness("Connection: close\r\n"))) === 200;
      if (!served) await sleep(10);
    }
    assert.ok(served, "the place freed goes to the next connection");
    for (const c of held) c.destroy();
  });
});

// The share of one CPU that process `pid` uses over `ms`.
async function cpuShare(pid, ms) {
  const ticks = Number(execFileSync("getconf", ["CLK_TCK"]).toString());
  const used = () => {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / ticks;
  };
  const before = used();
  await sleep(ms);
  return (used() - before) / (ms / 1000);
}

test("out of descriptors, the listener pauses instead of spinning, and serves again once idle connections close", async () => {
  await withServer(["--max-connections", "1000", "--idle-timeout", "1s", "--usage-flush-interval", "100ms"], async (srv) => {
    // Let the usage recorder flush once first: UndefinedBehaviorSanitizer checks a virtual call's
    // dynamic type the first time it sees it by reading /proc, which fails without descriptors
    // and is then reported as a bad call. Once seen, the type is cached.
    await sleep(300);
    execFileSync("prlimit", ["--pid", String(srv.proc.pid), "--nofile=128:128"]);
    const idle = Array.from({ length: 200 }, () => new RawConnection(srv.port));
    await Promise.all(idle.map((c) => c.connected()));
    await sleep(200);
    const cpu = await cpuShare(srv.proc.pid, 1000);
    assert.ok(cpu < 0.15, `the server used ${(cpu * 100).toFixed(0)}% of a CPU while it could not accept`);
    const started = Date.now();
    const r = await fetch(`${srv.url}/v2/liveness`, { signal: AbortSignal.timeout(8000) });
    assert.equal(r.status, 200);
    assert.ok(Date.now() - started < 5000, `served after ${Date.now() - started} ms`);
    await Promise.race([Promise.all(idle.map((c) => c.closed)), sleep(8000)]);
    assert.equal(idle.filter((c) => c.sock.destroyed).length, 200, "every idle connection is closed by the server");
    assert.match(srv.stderr, /cannot accept connections \(Too many open files\); trying again every 100 ms/);
  });
});

test("after a refusal, bytes trickling in keep the connection open for a fixed time only", async () => {
  await withServer(["--read-timeout", "1s"], async (srv) => {
    // allowHalfOpen: keep writing after the server has finished its answer, as a hostile client would.
    const c = new RawConnection(srv.port, { allowHalfOpen: true });
    const r = await c.request("POST /v2/keys.createKey HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n");
    await assertRefused(srv, r, 400, "unkey");
    const started = Date.now();
    const trickle = setInterval(() => c.sock.write("a"), 200);
    await Promise.race([c.closed, sleep(6000)]);
    clearInterval(trickle);
    const took = Date.now() - started;
    assert.ok(c.sock.destroyed && took < 2500, `closed after ${took} ms; a byte every 200 ms must not keep it`);
  });
});

test("an idle keep-alive connection is closed after idle_timeout, and trickled bytes end in a 408", async () => {
  await withServer(["--idle-timeout", "300ms", "--read-timeout", "1s"], async (srv) => {
    const idle = new RawConnection(srv.port);
    assert.equal(status(await idle.request(liveness())), 200);
    let started = Date.now();
    await Promise.race([idle.closed, sleep(3000)]);
    assert.ok(idle.sock.destroyed && Date.now() - started < 1500, "idle connection closed");
    const slow = new RawConnection(srv.port);
    assert.equal(status(await slow.request(liveness())), 200);
    started = Date.now();
    const trickle = setInterval(() => slow.sock.write("G"), 100);
    const r = await slow.request("");
    clearInterval(trickle);
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 2000, `408 after ${took} ms`);
    await assertRefused(srv, r, 408, "plain");
    slow.destroy();
  });
});

test("over TLS the same deadlines hold, and past max_connections a connection is closed at once", async () => {
  const { key, cert, ca } = selfSignedCert(tempDir("tls"));
  const args = ["--tls-cert", cert, "--tls-key", key, "--read-timeout", "1s", "--idle-timeout", "300ms"];
  await withServer([...args, "--max-connections", "1"], async (srv) => {
    // No ClientHello ever: the handshake has read_timeout.
    const silent = new RawConnection(srv.port);
    let started = Date.now();
    await Promise.race([silent.closed, sleep(3000)]);
    let took = Date.now() - started;
    assert.ok(silent.sock.destroyed && took >= 900 && took < 2500, `closed during the handshake after ${took} ms`);
    // A request over TLS, then idle.
    const idle = new RawConnection(srv.port, { ca }, tls.connect);
    assert.equal(status(await idle.request(liveness())), 200);
    // The one place is taken: a new connection is closed at once, long before a handshake would time out.
    const refused = new RawConnection(srv.port);
    started = Date.now();
    await Promise.race([refused.closed, sleep(3000)]);
    took = Date.now() - started;
    assert.ok(refused.sock.destroyed && took < 300 && refused.buffer === "", `refused after ${took} ms`);
    started = Date.now();
    await Promise.race([idle.closed, sleep(3000)]);
    assert.ok(idle.sock.destroyed && Date.now() - started < 1500, "idle connection closed");
    // A request trickling over TLS is answered 408.
    // The idle connection's place frees once its close-down ends (up to 2 s over TLS).
    let slow;
    for (const until = Date.now() + 8000; !slow && Date.now() < until; ) {
      const c = new RawConnection(srv.port, { ca }, tls.connect);
      if (status(await c.request(liveness())) === 200) slow = c;
      else await sleep(50);
    }
    assert.ok(slow, "served once the idle connection is gone");
    const trickle = setInterval(() => slow.sock.write("a"), 100);
    const r = await slow.request("POST /v2/keys.verifyKey HTTP/1.1\r\nX-Slow: ");
    clearInterval(trickle);
    await assertRefused(srv, r, 408, "unkey");
    slow.destroy();
  });
});

// Runs in a worker thread, so that its writes do not delay the latency measurements of the test.
const slowLoris = `
const { parentPort, workerData } = require("node:worker_threads");
const net = require("node:net");
const { port, heads, everyMs } = workerData;
const results = [];
let connected = 0;
let closed = 0;
for (const head of heads) {
  const r = { head, out: "", closedAfter: null };
  results.push(r);
  const started = Date.now();
  const sock = net.connect(port, "127.0.0.1", () => {
    sock.write(head);
    if (++connected === heads.length) parentPort.postMessage({ connected });
  });
  const timer = setInterval(() => sock.write("a"), everyMs);
  sock.on("data", (d) => (r.out += d.toString("latin1")));
  sock.on("error", () => {});
  sock.on("close", () => {
    clearInterval(timer);
    r.closedAfter = Date.now() - started;
    if (++closed === heads.length) parentPort.postMessage({ results });
  });
}
`;

test("500 slow-loris connections are cut at read_timeout with a 408 while other clients are answered at once", async () => {
  const readTimeout = 2000;
  await withServer(["--read-timeout", `${readTimeout}ms`], async (srv) => {
    const apiId = (await srv.ok("apis.createApi", { name: "loris" })).apiId;
    const { key } = await srv.ok("keys.createKey", { apiId });
    const heads = Array.from({ length: 500 }, (_, i) =>
      i % 5 === 4 ? "GET /v1/sys/health" : "POST /v2/keys.verifyKey HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    const worker = new Worker(slowLoris, { eval: true, workerData: { port: srv.port, heads, everyMs: 200 } });
    const messages = [];
    const finished = new Promise((resolve, reject) => {
      worker.on("message", (m) => (m.results ? resolve(m.results) : messages.push(m)));
      worker.on("error", reject);
    });
    while (messages.length === 0) await sleep(10);
    const started = Date.now();
    const latencies = [];
    while (Date.now() - started < readTimeout - 300) {
      const t0 = performance.now();
      const r = await srv.call("keys.verifyKey", { key });
      latencies.push(performance.now() - t0);
      assert.equal(r.body.data.code, "VALID");
    }
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)];
    const results = await finished;
    await worker.terminate();
    assert.ok(latencies.length >= 50, `${latencies.length} requests answered meanwhile`);
    assert.ok(p99 <= 100, `p99 ${p99.toFixed(1)} ms over ${latencies.length} requests`);
    for (const r of results) {
      assert.equal(status(r.out), 408, `${r.head}: ${r.out}`);
      const body = bodyOf(r.out);
      if (r.head.startsWith("POST")) assert.match(body.error.type, /request_timeout$/);
      else assert.match(body.errors[0], /did not arrive whole within 2000 ms/);
      assert.ok(r.closedAfter >= readTimeout - 100 && r.closedAfter < readTimeout + 1500, `closed after ${r.closedAfter} ms`);
    }
    await eventually(() =>  // the access log is written in the background, within a second
      assert.equal(srv.stderr.split("\n").filter((l) => / 408 \d+us /.test(l)).length, 500));
    console.log(`# slow loris: p50 ${latencies[Math.floor(latencies.length / 2)].toFixed(2)} ms, p99 ${p99.toFixed(2)} ms over ${latencies.length} verifications`);
  });
});

test("a body naming a field twice is refused: two readers must not see two requests", async () => {
  const { apiId } = await s.ok("apis.createApi", { name: "dup" });
  const { key } = await s.ok("keys.createKey", { apiId });
  for (const raw of [
    `{"key":"${key}","key":"hd_other"}`,
    `{"key":"${key}","credits":{"cost":0,"cost":5}}`,
  ]) {
    const r = await s.call("keys.verifyKey", undefined, s.rootKey, { raw });
    assert.equal(r.status, 400, raw);
    assert.match(r.body.error.errors[0].message, /twice/);
  }
  const keyAsName = await s.call("keys.verifyKey", undefined, s.rootKey, { raw: `{"${key}":1,"${key}":2}` });
  assert.equal(keyAsName.status, 400);
  assert.ok(!keyAsName.text.includes(key), "an odd name is not echoed");
  assert.equal((await s.call("keys.verifyKey", { key })).body.data.code, "VALID");
});

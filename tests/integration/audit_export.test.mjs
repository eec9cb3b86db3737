// `keyhold audit export` to a syslog address: entries too long for one message, resuming after a
// line that was not sent (to the address and to --output alike), MSGID, and unix socket kinds.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import dgram from "node:dgram";
import { Server, cli, eventually, tempDir } from "../lib/keyhold.mjs";

const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const jsonLines = (text) => text.trim().split("\n").filter(Boolean);
const header = /^<86>1 \S+ \S+ keyhold-audit \d+ (\S+) - (\{.*\})$/;

// A log whose signed checkpoints fall between its entries, not only at its end.
async function serverWithCheckpoints() {
  const s = await new Server({ args: ["--audit-checkpoint-interval", "100ms"] }).start();
  const { apiId } = await s.ok("apis.createApi", { name: "helpdesk" });
  await pause(300);
  const { keyId } = await s.ok("keys.createKey", { apiId, name: "agent" });
  await pause(300);
  await s.ok("keys.updateKey", { keyId, name: "agent-2" });
  await s.ok("keys.updateCredits", { keyId, operation: "set", value: 10 });
  await pause(300);
  await s.ok("keys.deleteKey", { keyId });
  await pause(300);
  return s;
}

async function udpReceiver() {
  const socket = dgram.createSocket("udp4");
  const got = [];
  socket.on("message", (m) => got.push(m.toString("utf8")));
  await new Promise((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return { socket, got, addr: `udp:127.0.0.1:${socket.address().port}` };
}

// The flags that resume right after line `i` of a straight export, as a stopped export names them
// for the line it could not send: a checkpoint at seq N follows entry N, so the line after entry N
// is --after N --from-checkpoint if that checkpoint exists, and --after N after both.
function resumeAfter(parsed, i) {
  const next = parsed[i + 1];
  if (next?.type === "checkpoint") return ["--after", String(next.seq), "--from-checkpoint"];
  return ["--after", String(parsed[i].seq)];
}

test("a resumed export writes exactly what a straight export writes after that point", async () => {
  const s = await serverWithCheckpoints();
  const straight = await cli(["audit", "export", "--data-dir", s.dataDir, "--checkpoints"]);
  assert.equal(straight.code, 0, straight.stderr);
  const lines = jsonLines(straight.stdout);
  const parsed = lines.map((l) => JSON.parse(l));
  const checkpoints = parsed.filter((l) => l.type === "checkpoint");
  assert.ok(
    checkpoints.some((cp) => cp.seq < parsed.filter((l) => l.type === "event").length),
    "a checkpoint falls inside the log",
  );
  parsed.forEach((l, i) => {
    if (l.type === "checkpoint") {
      assert.equal(parsed[i - 1].seq, l.seq, "each checkpoint follows the entry it covers");
    }
  });
  for (let i = 0; i < lines.length; i++) {
    const after = await cli(["audit", "export", "--data-dir", s.dataDir, "--checkpoints",
      ...resumeAfter(parsed, i)]);
    assert.equal(after.code, 0, after.stderr);
    assert.deepEqual(jsonLines(after.stdout), lines.slice(i + 1), `after line ${i}`);
  }
  const misuse = await cli(["audit", "export", "--data-dir", s.dataDir, "--after", "3",
    "--from-checkpoint"]);
  assert.equal(misuse.code, 2);
  assert.match(misuse.stderr, /--from-checkpoint needs --checkpoints/);
  await s.stop();
});

test("an export stopped by a line not sent resumes into syslog and --output without repeats",
  async () => {
    const s = await serverWithCheckpoints();
    const straight = await cli(["audit", "export", "--data-dir", s.dataDir, "--checkpoints"]);
    const lines = jsonLines(straight.stdout);

    // Nothing listens on this port: the loopback refuses the first datagram (ICMP), and the send
    // after it is told so; the line named is the refused one, the first.
    const gone = dgram.createSocket("udp4");
    await new Promise((resolve) => gone.bind(0, "127.0.0.1", resolve));
    const deadPort = gone.address().port;
    await new Promise((resolve) => gone.close(resolve));
    const file = path.join(tempDir(), "audit.jsonl");
    const stopped = await cli(["audit", "export", "--data-dir", s.dataDir, "--checkpoints",
      "--output", file, "--syslog-addr", `udp:127.0.0.1:${deadPort}`]);
    assert.equal(stopped.code, 3, stopped.stderr);
    const m = /error: (entry|checkpoint at entry) (\d+) not sent: .*; resume with (--after \d+(?: --from-checkpoint)?)\n/
      .exec(stopped.stderr);
    assert.ok(m, stopped.stderr);
    const failed = lines.findIndex((l) => {
      const j = JSON.parse(l);
      return j.seq === Number(m[2]) && j.type === (m[1] === "entry" ? "event" : "checkpoint");
    });
    assert.equal(failed, 0, stopped.stderr);
    assert.deepEqual(jsonLines(fs.readFileSync(file, "utf8")), lines.slice(0, failed),
      "the file holds the lines before the one not sent, not that one");

    const r = await udpReceiver();
    try {
      const resumed = await cli(["audit", "export", "--data-dir", s.dataDir, "--checkpoints",
        "--output", file, "--syslog-addr", r.addr, ...m[3].split(" ")]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.deepEqual(jsonLines(fs.readFileSync(file, "utf8")), lines,
        "interrupted and resumed, the file is the straight export");
      await eventually(() => assert.equal(r.got.length, lines.length - failed));
      assert.deepEqual(r.got.map((d) => header.exec(d)[2]), lines.slice(failed),
        "syslog got the rest, from the line not sent");
    } finally {
      r.socket.close();
    }
    await s.stop();
  });

test("over UDP a refused line is the one named, though the send after it is told", async () => {
  const s = await new Server().start();
  await s.ok("apis.createApi", { name: "helpdesk" });
  const before = jsonLines((await cli(["audit", "export", "--data-dir", s.dataDir])).stdout);
  const r = await udpReceiver();
  const file = path.join(tempDir(), "audit.jsonl");
  let closed = false;
  const following = cli(["audit", "export", "--data-dir", s.dataDir, "--output", file,
    "--syslog-addr", r.addr, "--follow", "--poll", "50"]);
  try {
    await eventually(() => assert.equal(r.got.length, before.length));
    await eventually(() => assert.deepEqual(jsonLines(fs.readFileSync(file, "utf8")), before));
    const sent = before;
    // The collector goes away: the next datagrams are refused.
    await new Promise((resolve) => r.socket.close(resolve));
    closed = true;
    await s.ok("apis.createApi", { name: "billing" });
    await s.ok("apis.createApi", { name: "shipping" });
    const stopped = await Promise.race([following, pause(15000).then(() => null)]);
    assert.ok(stopped, "the export stops");
    assert.equal(stopped.code, 3, stopped.stderr);
    const firstLost = JSON.parse(sent.at(-1)).seq + 1;
    assert.match(stopped.stderr,
      new RegExp(`error: entry ${firstLost} not sent: .*; resume with --after ${firstLost - 1}\n`));
    assert.deepEqual(jsonLines(fs.readFileSync(file, "utf8")), sent,
      "the file claims no line the collector refused");
  } finally {
    if (!closed) r.socket.close();
  }
  await s.stop();
});

test("a line not written to --output stops the export, naming it and how to resume", async () => {
  const s = await new Server().start();
  await s.ok("apis.createApi", { name: "helpdesk" });
  const full = await cli(["audit", "export", "--data-dir", s.dataDir, "--output", "/dev/full"]);
  assert.equal(full.code, 3, full.stderr);
  assert.match(full.stderr,
    /^error: entry 1 not written to \/dev\/full: No space left on device; resume with --after 0\n$/);

  // Sent to syslog first: the message says it will be sent again.
  const r = await udpReceiver();
  try {
    const both = await cli(["audit", "export", "--data-dir", s.dataDir, "--output", "/dev/full",
      "--syslog-addr", r.addr]);
    assert.equal(both.code, 3, both.stderr);
    assert.match(both.stderr, /entry 1 not written to \/dev\/full: .*sent to syslog.*; resume with --after 0\n$/);
  } finally {
    r.socket.close();
  }
  await s.stop();
});

test("an entry longer than a message is sent as a stub naming it, and later ones follow", async () => {
  const s = await new Server().start();
  const { apiId } = await s.ok("apis.createApi", { name: "helpdesk" });
  const permissions = Array.from({ length: 40 }, (_, i) => `tickets.${i}.${"p".repeat(400)}`);
  const big = await s.ok("keys.createKey", { apiId, name: "agent", permissions });
  await s.ok("keys.deleteKey", { keyId: big.keyId });
  const whole = jsonLines((await cli(["audit", "export", "--data-dir", s.dataDir])).stdout);
  const bigLine = whole.find((l) => JSON.parse(l).action === "key.create");
  assert.ok(bigLine.length > 16000, "the entry is longer than one message");

  const r = await udpReceiver();
  try {
    const out = await cli(["audit", "export", "--data-dir", s.dataDir, "--syslog-addr", r.addr]);
    assert.equal(out.code, 0, out.stderr);
    await eventually(() => assert.equal(r.got.length, whole.length));
    for (const d of r.got) {
      assert.ok(Buffer.byteLength(d) <= 8192, "no message over the default 8 KiB");
    }
    const sent = r.got.map((d) => JSON.parse(header.exec(d)[2]));
    assert.deepEqual(sent.map((e) => e.seq), whole.map((l) => JSON.parse(l).seq),
      "every entry arrives, the long one and those after it");
    const stub = sent.find((e) => e.action === "key.create");
    const full = JSON.parse(bigLine);
    assert.equal(stub.truncated, true);
    assert.equal(stub.fullBytes, Buffer.byteLength(bigLine));
    assert.equal(stub.details, undefined);
    for (const field of ["type", "seq", "time", "actor", "target", "outcome", "clientIp",
      "requestId", "hash"]) {
      assert.deepEqual(stub[field], full[field], field);
    }
    assert.ok(!r.got.some((d) => d.includes(big.key) || d.includes(s.rootKey)), "no key material");
  } finally {
    r.socket.close();
  }

  // A larger limit sends it whole; the limit is bounded.
  const r2 = await udpReceiver();
  try {
    const out = await cli(["audit", "export", "--data-dir", s.dataDir, "--syslog-addr", r2.addr,
      "--syslog-max-bytes", "65507"]);
    assert.equal(out.code, 0, out.stderr);
    await eventually(() => assert.equal(r2.got.length, whole.length));
    assert.deepEqual(r2.got.map((d) => header.exec(d)[2]), whole);
  } finally {
    r2.socket.close();
  }
  const tooSmall = await cli(["audit", "export", "--data-dir", s.dataDir, "--syslog-addr",
    "udp:127.0.0.1:9", "--syslog-max-bytes", "100"]);
  assert.equal(tooSmall.code, 2);
  assert.match(tooSmall.stderr, /--syslog-max-bytes/);
  // An empty address (an unset variable) is refused, not taken as "no syslog": the lines would
  // go to stdout while the operator believes they reach the SIEM.
  const empty = await cli(["audit", "export", "--data-dir", s.dataDir, "--syslog-addr", ""]);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /--syslog-addr/);
  assert.equal(empty.stdout, "");
  const alone = await cli(["audit", "export", "--data-dir", s.dataDir, "--syslog-max-bytes", "2048"]);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--syslog-max-bytes needs --syslog or --syslog-addr/);
  await s.stop();
});

test("MSGID is the entry's action, and \"checkpoint\" for a checkpoint", async () => {
  const s = await serverWithCheckpoints();
  const r = await udpReceiver();
  try {
    const out = await cli(["audit", "export", "--data-dir", s.dataDir, "--checkpoints",
      "--syslog-addr", r.addr]);
    assert.equal(out.code, 0, out.stderr);
    const lines = jsonLines((await cli(["audit", "export", "--data-dir", s.dataDir,
      "--checkpoints"])).stdout);
    await eventually(() => assert.equal(r.got.length, lines.length));
    for (const d of r.got) {
      const [, msgid, msg] = header.exec(d);
      const line = JSON.parse(msg);
      assert.equal(msgid, line.type === "checkpoint" ? "checkpoint" : line.action, d);
      assert.match(msgid, /^[!-~]{1,32}$/);
    }
  } finally {
    r.socket.close();
  }
  await s.stop();
});

test("a unix stream socket is refused with what is needed instead", async () => {
  const s = await new Server().start();
  await s.ok("apis.createApi", { name: "helpdesk" });
  const sock = path.join(tempDir(), "stream.sock");
  const server = net.createServer(() => {});
  await new Promise((resolve) => server.listen(sock, resolve));
  try {
    const r = await cli(["audit", "export", "--data-dir", s.dataDir, "--syslog-addr", `unix:${sock}`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is a stream socket: a unix datagram socket is needed/);
  } finally {
    server.close();
  }
  const help = await cli(["audit", "export", "--help"]);
  for (const flag of ["--syslog-max-bytes", "--syslog-timeout", "--from-checkpoint"]) {
    assert.match(help.stdout, new RegExp(flag));
  }
  await s.stop();
});

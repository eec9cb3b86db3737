// Alerts delivered as Standard Webhooks: signed so the reference library verifies them, retried
// after a failure, resumed after a restart, stopped by 410 Gone; and the signing secret is shown
// once and never again: not in the logs, not in the audit log.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { Webhook } from "standardwebhooks";
import { Server, cli, tempDir } from "../lib/keyhold.mjs";
import path from "node:path";

const FAST_RETRIES = [
  "--webhook-allow-private-networks", "true",
  "--webhook-backoff-base", "300ms",
  "--webhook-backoff-cap", "600ms",
  "--webhook-timeout", "2s",
];

// A webhook receiver on a free port: answers each request with the next of `answers` (then
// with the last one) and keeps what it received.
async function receiver(answers) {
  const r = { received: [], answers };
  r.server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const status = r.answers.length > 1 ? r.answers.shift() : r.answers[0];
      r.received.push({ headers: req.headers, body, status, path: req.url });
      res.writeHead(status, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise((resolve) => r.server.listen(0, "127.0.0.1", resolve));
  r.url = `http://127.0.0.1:${r.server.address().port}/hooks/keyhold`;
  r.close = () => new Promise((resolve) => r.server.close(resolve));
  return r;
}

// The outbox depth /metrics reports (keyhold_webhook_deliveries_pending).
async function pendingDeliveries(s) {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const m = /^keyhold_webhook_deliveries_pending (-?\d+)$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

async function until(predicate, what, ms = 15000) {
  const start = Date.now();
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function assertVerifies(secret, delivery) {
  const wh = new Webhook(secret);
  const payload = wh.verify(delivery.body, delivery.headers);
  assert.equal(typeof payload, "object");
  return payload;
}

test("a failed first attempt is retried, and both attempts verify with standardwebhooks", async () => {
  const rx = await receiver([500, 204]);
  const s = await new Server({ args: FAST_RETRIES }).start();
  try {
    const created = await s.ok("webhooks.createEndpoint", { url: rx.url, description: "ops" });
    assert.match(created.secret, /^whsec_[A-Za-z0-9+/]{32}$/);
    assert.match(created.endpointId, /^wh_/);
    const tested = await s.ok("webhooks.testEndpoint", { endpointId: created.endpointId });
    assert.equal(tested.deliveries, 1);
    await until(() => rx.received.length >= 2, "the retry");
    const [first, second] = rx.received;
    assert.equal(first.status, 500);
    assert.equal(second.status, 204);
    assert.equal(first.headers["webhook-id"], second.headers["webhook-id"], "one message id");
    assert.equal(first.path, "/hooks/keyhold");
    for (const d of rx.received) assertVerifies(created.secret, d);
    const payload = JSON.parse(second.body);
    assert.equal(payload.type, "webhook.test");
    assert.match(payload.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(payload.data.id, tested.alertId);
    assert.equal(payload.data.kind, "webhook.test");
    assert.throws(() => new Webhook("whsec_" + Buffer.alloc(24, 1).toString("base64")).verify(second.body, second.headers));

    const deliveries = await until(async () => {
      const d = await s.ok("webhooks.listDeliveries", { endpointId: created.endpointId });
      return d[0]?.status === "delivered" && d;
    }, "the delivery to be recorded");
    assert.equal(deliveries[0].attempts, 2);
    assert.equal(deliveries[0].messageId, second.headers["webhook-id"]);
    assert.equal(deliveries[0].lastHttpStatus, 204);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(rx.received.length, 2, "nothing is sent again once delivered");

    const alerts = await s.ok("alerts.list", { kind: "webhook.test" });
    assert.equal(alerts.length, 1);
    const acked = await s.ok("alerts.acknowledge", { alertId: tested.alertId });
    assert.ok(acked.acknowledgedAt > 0);
    assert.equal((await s.ok("alerts.list", { acknowledged: false })).length, 0);

    const rotated = await s.ok("webhooks.rotateSecret", { endpointId: created.endpointId });
    assert.notEqual(rotated.secret, created.secret);
    assert.ok(rotated.previousSecretValidUntil > Date.now());
    await s.ok("webhooks.testEndpoint", { endpointId: created.endpointId });
    await until(() => rx.received.length >= 3, "the delivery after rotation");
    const third = rx.received[2];
    assert.equal(third.headers["webhook-signature"].split(" ").length, 2, "old and new secret sign");
    assertVerifies(rotated.secret, third);
    assertVerifies(created.secret, third);

    const events = await s.call("audit.listEvents", { action: "webhook_endpoint.*", limit: 100 });
    assert.equal(events.status, 200);
    assert.deepEqual(
      events.body.data.map((e) => e.action).reverse(),
      ["webhook_endpoint.create", "webhook_endpoint.rotate_secret"],
    );
    const acks = await s.ok("audit.listEvents", { action: "alert.acknowledge" });
    assert.equal(acks.length, 1);
    const everything = await s.call("audit.listEvents", { limit: 1000 });
    await s.stop();
    for (const secret of [created.secret, rotated.secret]) {
      const bare = secret.slice("whsec_".length);
      assert.ok(!everything.text.includes(bare), "no secret in the audit log");
      assert.ok(!s.stdout.includes(bare), "no secret on stdout");
      assert.ok(!s.stderr.includes(bare), "no secret in the log");
    }
    assert.match(s.stderr, /alert alert_\S+ webhook\.test info/, "alerts are logged");
  } finally {
    await s.stop();
    await rx.close();
  }
});

test("a pending delivery survives a restart and is received once", async () => {
  const rx = await receiver([500]);
  const dataDir = path.join(tempDir(), "data");
  const args = [...FAST_RETRIES.slice(0, 2), "--webhook-backoff-base", "1500ms",
                "--webhook-backoff-cap", "1500ms"];
  const s = await new Server({ dataDir, args }).start();
  let created;
  try {
    created = await s.ok("webhooks.createEndpoint", { url: rx.url });
    await s.ok("webhooks.testEndpoint", { endpointId: created.endpointId });
    await until(() => rx.received.length >= 1, "the first attempt");
    // Waiting for its retry, the delivery is counted in the outbox's depth.
    await until(async () => (await pendingDeliveries(s)) === 1, "the pending delivery in /metrics");
  } finally {
    await s.stop();
  }
  const id = rx.received[0].headers["webhook-id"];
  rx.answers = [200];
  const before = rx.received.length;
  const again = new Server({ dataDir, args });
  await again.start();
  again.rootKey = s.rootKey;
  try {
    await until(() => rx.received.some((d) => d.status === 200), "the delivery after restart");
    await new Promise((r) => setTimeout(r, 2000));
    const ok = rx.received.filter((d) => d.status === 200);
    assert.equal(ok.length, 1, "received once");
    assert.equal(ok[0].headers["webhook-id"], id);
    assert.ok(rx.received.length > before);
    assertVerifies(created.secret, ok[0]);
    const d = await again.ok("webhooks.listDeliveries", { endpointId: created.endpointId });
    assert.equal(d[0].status, "delivered");
    await until(async () => (await pendingDeliveries(again)) === 0, "an empty outbox in /metrics");
  } finally {
    await again.stop();
    await rx.close();
  }
});

test("an endpoint that never answers does not hold up another endpoint's alerts", async () => {
  // Accepts connections and holds them, reading nothing back.
  const held = new Set();
  const dead = net.createServer((socket) => {
    held.add(socket);
    socket.on("error", () => {});
  });
  await new Promise((resolve) => dead.listen(0, "127.0.0.1", resolve));
  const rx = await receiver([204]);
  const s = await new Server({
    args: ["--webhook-allow-private-networks", "true", "--webhook-timeout", "10s"],
  }).start();
  try {
    const stuck = await s.ok("webhooks.createEndpoint", {
      url: `http://127.0.0.1:${dead.address().port}/hooks`, kinds: ["webhook.test"],
    });
    const live = await s.ok("webhooks.createEndpoint", { url: rx.url, kinds: ["webhook.test"] });
    await s.ok("webhooks.testEndpoint", { endpointId: stuck.endpointId });
    await until(() => held.size > 0, "the held connection");
    const start = Date.now();
    await s.ok("webhooks.testEndpoint", { endpointId: live.endpointId });
    await until(() => rx.received.length === 1, "the live endpoint's alert", 8000);
    assert.ok(Date.now() - start < 3000, `delivered after ${Date.now() - start}ms`);
    const [d] = await s.ok("webhooks.listDeliveries", { endpointId: stuck.endpointId });
    assert.equal(d.status, "pending", "the held delivery is still under way");
  } finally {
    for (const socket of held) socket.destroy();
    await s.stop();
    await rx.close();
    await new Promise((resolve) => dead.close(resolve));
  }
});

test("410 Gone disables the endpoint", async () => {
  const rx = await receiver([410]);
  const s = await new Server({ args: FAST_RETRIES }).start();
  try {
    const created = await s.ok("webhooks.createEndpoint", { url: rx.url, kinds: ["webhook.test"] });
    await s.ok("webhooks.testEndpoint", { endpointId: created.endpointId });
    const endpoint = await until(async () => {
      const e = await s.ok("webhooks.getEndpoint", { endpointId: created.endpointId });
      return !e.enabled && e;
    }, "the endpoint to be disabled");
    assert.match(endpoint.disabledReason, /410/);
    const [d] = await s.ok("webhooks.listDeliveries", { endpointId: created.endpointId });
    assert.equal(d.status, "failed");
    assert.equal(d.attempts, 1);
    assert.equal(rx.received.length, 1);
    const enabled = await s.ok("webhooks.updateEndpoint", { endpointId: created.endpointId, enabled: true });
    assert.equal(enabled.enabled, true);
    assert.equal(enabled.disabledReason, null);
  } finally {
    await s.stop();
    await rx.close();
  }
});

test("private addresses are refused unless allowed, and changes need alerts.*.manage", async () => {
  const rx = await receiver([200]);
  const s = await new Server({ args: ["--webhook-backoff-base", "100ms"] }).start();
  try {
    const reader = await s.ok("rootKeys.createRootKey", { permissions: ["alerts.*.read"] });
    const denied = await s.call("webhooks.createEndpoint", { url: rx.url }, reader.key);
    assert.equal(denied.status, 403);
    assert.match(denied.text, /alerts\.\*\.manage/);
    assert.equal((await s.call("webhooks.listEndpoints", {}, reader.key)).status, 200);
    const bad = await s.call("webhooks.createEndpoint", { url: "ftp://example.com/" });
    assert.equal(bad.status, 400);

    const created = await s.ok("webhooks.createEndpoint", { url: rx.url });
    await s.ok("webhooks.testEndpoint", { endpointId: created.endpointId });
    const [d] = await until(async () => {
      const list = await s.ok("webhooks.listDeliveries", { endpointId: created.endpointId });
      return list[0]?.attempts >= 1 && list;
    }, "an attempt");
    assert.match(d.lastError, /refused/);
    assert.equal(rx.received.length, 0, "nothing reached the loopback receiver");
    await s.ok("webhooks.deleteEndpoint", { endpointId: created.endpointId });
    assert.equal((await s.call("webhooks.getEndpoint", { endpointId: created.endpointId })).status, 404);
  } finally {
    await s.stop();
    await rx.close();
  }
});

test("the command line creates, lists, tests and deletes endpoints, and lists and acknowledges alerts", async () => {
  const rx = await receiver([204]);
  const s = await new Server({ args: FAST_RETRIES }).start();
  const env = { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: s.rootKey };
  try {
    const created = await cli(["webhooks", "create", rx.url, "--kind", "webhook.test", "--json"], { env });
    assert.equal(created.code, 0, created.stderr);
    const endpoint = JSON.parse(created.stdout).data;
    assert.match(endpoint.secret, /^whsec_/);
    const listed = await cli(["webhooks", "list"], { env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(endpoint.endpointId));
    assert.ok(!listed.stdout.includes(endpoint.secret.slice(6)), "list never shows the secret");
    const tested = await cli(["webhooks", "test", endpoint.endpointId], { env });
    assert.equal(tested.code, 0, tested.stderr);
    const alertId = /raised (alert_\S+)/.exec(tested.stdout)[1];
    await until(() => rx.received.length >= 1, "the test delivery");
    assertVerifies(endpoint.secret, rx.received[0]);
    const open = await cli(["alerts", "list", "--open", "--json"], { env });
    assert.equal(open.code, 0, open.stderr);
    assert.deepEqual(JSON.parse(open.stdout).data.map((a) => a.id), [alertId]);
    const acked = await cli(["alerts", "ack", alertId], { env });
    assert.equal(acked.code, 0, acked.stderr);
    assert.match(acked.stdout, /acked/);
    const deleted = await cli(["webhooks", "delete", endpoint.endpointId], { env });
    assert.equal(deleted.code, 0, deleted.stderr);
    const missing = await cli(["webhooks", "delete", endpoint.endpointId], { env });
    assert.equal(missing.code, 1);
  } finally {
    await s.stop();
    await rx.close();
  }
});

test("a webhook setting out of range stops the server before it serves", async () => {
  const dataDir = path.join(tempDir(), "data");
  for (const [flag, value, message] of [
    ["--webhook-max-attempts", "0", /webhook_max_attempts/],
    ["--webhook-allow-private-networks", "yes", /webhook_allow_private_networks/],
    ["--webhook-backoff-base", "soon", /webhook_backoff_base/],
  ]) {
    const r = await cli(["serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", flag, value]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});

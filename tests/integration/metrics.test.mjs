// GET /metrics: the Prometheus exposition moves with the traffic, holds no key material whatever
// clients send, passes `promtool check metrics`, and is served only to whom metrics_access says.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import os from "node:os";
import { Server, cli, issuedKeys } from "../lib/keyhold.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function scrape(url, { headers = {}, method = "GET" } = {}) {
  const res = await fetch(`${url}/metrics`, { method, headers });
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
}

// The value of one sample, by its exact series text (name and labels), or undefined.
function sample(text, series) {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

// promtool's verdict on an exposition: its exit code and what it printed.
function promtool(text) {
  try {
    const out = execFileSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    return { code: 0, out };
  } catch (e) {
    return { code: e.status, out: `${e.stdout}${e.stderr}` };
  }
}

// An IPv4 address of this host that is not loopback, to reach the server from a non-loopback
// peer; undefined when the host has none.
function externalAddress() {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === "IPv4" && !a.internal) return a.address;
    }
  }
  return undefined;
}

test("counters move with the traffic and the exposition passes promtool", async () => {
  const s = await new Server({ args: ["--usage-flush-interval", "100ms"] }).start();
  try {
    const { apiId } = await s.ok("apis.createApi", { name: "helpdesk" });
    const { key } = await s.ok("keys.createKey", { apiId, prefix: "hd" });
    const before = await scrape(s.url);
    assert.equal(before.status, 200);
    assert.equal(before.type, "text/plain; version=0.0.4; charset=utf-8");
    const verified = 'keyhold_http_requests_total{surface="unkey",route="keys.verifyKey",status="200"}';
    const valid = 'keyhold_verifications_total{code="VALID"}';
    const notFound = 'keyhold_verifications_total{code="NOT_FOUND"}';

    await s.ok("keys.verifyKey", { key });
    await s.ok("keys.verifyKey", { key });
    await s.ok("keys.verifyKey", { key: "hd_notakeyatall0000000000000000000" });
    await s.ok("keys.updateKey", { keyId: (await s.ok("keys.whoami", { key })).keyId, name: "n" });
    const limit = { namespace: "sms", identifier: "+15550100", limit: 1, duration: 60000 };
    await s.ok("ratelimit.limit", limit);
    await s.ok("ratelimit.limit", limit);
    await sleep(300); // one usage flush
    const after = await scrape(s.url);
    const text = after.text;

    assert.equal(sample(text, valid) - (sample(before.text, valid) ?? 0), 2);
    assert.equal(sample(text, notFound) - (sample(before.text, notFound) ?? 0), 1);
    assert.equal(sample(text, verified) - (sample(before.text, verified) ?? 0), 3);
    assert.ok(sample(text, 'keyhold_http_requests_total{surface="unkey",route="apis.createApi",status="200"}') >= 1);
    assert.ok(
      sample(text, 'keyhold_http_request_duration_seconds_count{surface="unkey",route="keys.verifyKey"}') >= 3,
    );
    assert.ok(sample(text, 'keyhold_http_request_size_bytes_count{surface="unkey",route="keys.verifyKey"}') >= 3);
    assert.ok(sample(text, 'keyhold_http_response_size_bytes_sum{surface="unkey",route="keys.verifyKey"}') > 0);
    assert.ok(sample(text, 'keyhold_http_requests_total{surface="metrics",route="/metrics",status="200"}') >= 1);
    // apis.create, key.create, key.update
    assert.ok(
      sample(text, "keyhold_audit_entries_written_total") - (sample(before.text, "keyhold_audit_entries_written_total") ?? 0) >= 1,
    );
    assert.ok(sample(text, "keyhold_audit_entries_written_total") >= 3);
    assert.equal(sample(text, "keyhold_key_cache_entries"), 2); // the root key and hd
    assert.ok(sample(text, 'keyhold_usage_flushes_total{result="ok"}') >= 1);
    assert.equal(sample(text, 'keyhold_usage_flushes_total{result="failed"}'), 0);
    // The minute under way is journaled, not yet written to the usage log.
    assert.ok(sample(text, 'keyhold_usage_minute_writes_total{result="ok"}') >= 0);
    assert.equal(sample(text, 'keyhold_usage_minute_writes_total{result="failed"}'), 0);
    assert.equal(sample(text, "keyhold_usage_dropped_events_total"), 0);
    assert.ok(sample(text, "keyhold_usage_buffered_events") >= 0);
    assert.equal(sample(text, 'keyhold_ratelimit_checks_total{result="passed"}'), 1);
    assert.equal(sample(text, 'keyhold_ratelimit_checks_total{result="refused"}'), 1);
    assert.equal(sample(text, "keyhold_ratelimit_states"), 1);
    assert.equal(sample(text, "keyhold_bruteforce_blocks_total"), 0);
    assert.equal(sample(text, "keyhold_alert_queue_depth"), 0);
    assert.equal(sample(text, "keyhold_alerts_dropped_total"), 0);
    assert.equal(sample(text, "keyhold_webhook_deliveries_pending"), 0);
    assert.match(text, /^keyhold_build_info\{version="\d+\.\d+\.\d+"\} 1$/m);
    for (const name of ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds"]) {
      assert.ok(sample(text, name) > 0, name);
    }
    assert.ok(Math.abs(sample(text, "process_start_time_seconds") - Date.now() / 1000) < 600);

    const check = promtool(text);
    assert.equal(check.code, 0, check.out);
    assert.equal(check.out.trim(), "", `promtool found problems:\n${check.out}`);

    const head = await scrape(s.url, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.type, "text/plain; version=0.0.4; charset=utf-8");
    assert.equal(head.text, "");
    const post = await fetch(`${s.url}/metrics`, { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
  } finally {
    await s.stop();
  }
});

test("no path, query, header or key a client sends ever becomes a label", async () => {
  const s = await new Server().start();
  try {
    const { apiId } = await s.ok("apis.createApi", { name: "helpdesk" });
    const { key } = await s.ok("keys.createKey", { apiId, prefix: "leak" });
    // Provider-shaped, made at run time so that the scan of this repository does not flag it.
    const fake = ["sk", "live", "metricsLEAKcanary0123456789"].join("_");
    const targets = [
      `/v2/${key}`,
      `/v2/keys.verifyKey/${key}`,
      `/v2/keys.verifyKey?key=${key}`,
      `/v1/secret/data/${fake}?token=${key}`,
      `/${key}`,
      `/health/${fake}`,
      `/metrics/${key}`,
      `/metricsx${fake}`,
    ];
    for (const t of targets) {
      await fetch(`${s.url}${t}`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "x-api-key": fake, "x-forwarded-for": fake },
        body: JSON.stringify({ key }),
      });
    }
    await s.call("keys.verifyKey", { key }, key); // the app key as a root key: 401
    await s.call("keys.verifyKey", { key: fake });
    const { status, text } = await scrape(s.url, { headers: { "x-api-key": fake } });
    assert.equal(status, 200);
    for (const secret of [key, fake, s.rootKey, ...issuedKeys]) {
      assert.ok(!text.includes(secret), `the exposition holds ${secret.slice(0, 6)}…`);
    }
    for (const fragment of ["leak_", "LEAKcanary", "secret/data", "token=", "metricsx"]) {
      assert.ok(!text.includes(fragment), `the exposition holds ${fragment}`);
    }
    for (const line of text.split("\n").filter((l) => l.startsWith("keyhold_http_requests_total{"))) {
      assert.match(line, /^keyhold_http_requests_total\{surface="(unkey|vault|health|metrics|none)",route="[A-Za-z./_-]+",status="\d{3}"\} \d+$/);
    }
    assert.ok(sample(text, 'keyhold_http_requests_total{surface="unkey",route="unmatched",status="404"}') >= 2);
    assert.ok(sample(text, 'keyhold_http_requests_total{surface="none",route="unmatched",status="404"}') >= 2);
    assert.equal(promtool(text).code, 0);
  } finally {
    await s.stop();
  }
});

test("root-key mode: 401 without a valid root key, 403 without metrics.*.read, 200 with it", async () => {
  const s = await new Server({ args: ["--metrics-access", "root-key"] }).start();
  try {
    const none = await scrape(s.url);
    assert.equal(none.status, 401);
    const body = JSON.parse(none.text);
    assert.equal(body.error.status, 401);
    assert.equal(body.error.reason, "authentication/missing");
    assert.match(body.error.requestId, /^req_/);
    assert.ok(!none.text.includes("keyhold_"));

    const unknown = await scrape(s.url, { headers: { authorization: "Bearer khr_notakeyatall" } });
    assert.equal(unknown.status, 401);
    assert.equal(JSON.parse(unknown.text).error.reason, "authentication/malformed");

    const auditor = await s.ok("rootKeys.createRootKey", { name: "auditor", permissions: ["audit.read"] });
    const forbidden = await scrape(s.url, { headers: { authorization: `Bearer ${auditor.key}` } });
    assert.equal(forbidden.status, 403);
    assert.equal(JSON.parse(forbidden.text).error.reason, "authorization/insufficient_permissions");
    assert.match(JSON.parse(forbidden.text).error.message, /metrics\.\*\.read/);

    const scraper = await s.ok("rootKeys.createRootKey", { name: "scraper", permissions: ["metrics.*.read"] });
    const ok = await scrape(s.url, { headers: { authorization: `Bearer ${scraper.key}` } });
    assert.equal(ok.status, 200);
    assert.match(ok.text, /^keyhold_build_info/m);
    assert.ok(!ok.text.includes(scraper.key) && !ok.text.includes(s.rootKey));
    const root = await scrape(s.url, { headers: { authorization: `Bearer ${s.rootKey}` } });
    assert.equal(root.status, 200);

    await s.ok("rootKeys.deleteRootKey", { keyId: scraper.keyId });
    const revoked = await scrape(s.url, { headers: { authorization: `Bearer ${scraper.key}` } });
    assert.equal(revoked.status, 401);
  } finally {
    await s.stop();
  }
});

test("loopback (the default) refuses a peer on another address; open serves it", async (t) => {
  const address = externalAddress();
  if (!address) {
    t.skip("this host has no non-loopback IPv4 address (the decision is unit-tested)");
    return;
  }
  const loopback = await new Server({ listen: "0.0.0.0:0" }).start();
  try {
    assert.equal((await scrape(`http://127.0.0.1:${loopback.port}`)).status, 200);
    const far = await scrape(`http://${address}:${loopback.port}`);
    assert.equal(far.status, 403);
    assert.equal(JSON.parse(far.text).error.reason, "authorization/forbidden");
    assert.ok(!far.text.includes("keyhold_"));
    // A forwarded address does not make a remote peer local, nor a local one remote.
    const forged = await scrape(`http://${address}:${loopback.port}`, { headers: { "x-forwarded-for": "127.0.0.1" } });
    assert.equal(forged.status, 403);
  } finally {
    await loopback.stop();
  }
  const open = await new Server({ listen: "0.0.0.0:0", args: ["--metrics-access", "open"] }).start();
  try {
    const far = await scrape(`http://${address}:${open.port}`);
    assert.equal(far.status, 200);
    assert.match(far.text, /^# TYPE keyhold_http_requests_total counter$/m);
  } finally {
    await open.stop();
  }
});

test("an unknown metrics_access is refused at start", async () => {
  const r = await cli(["serve", "--listen", "127.0.0.1:0", "--data-dir", "/nonexistent/x", "--metrics-access", "public"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /metrics_access must be loopback, open or root-key/);
});

// Anomaly detection end to end: real verifications provoke the detectors, whose reports carry
// the evidence and never a key. (Every detector's thresholds are unit-tested on a made-up
// timeline in src/core/anomaly_test.cc; spikes and new networks need hours of history.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { Server, eventually } from "../lib/keyhold.mjs";

function detections(s) {
  return s.stderr
    .split("\n")
    .map((l) => /anomaly detected: (\{.*\})$/.exec(l))
    .filter(Boolean)
    .map((m) => JSON.parse(m[1]));
}

test("failed bursts and sensitive tags are detected from real traffic", async () => {
  const s = await new Server({
    args: [
      "--usage-flush-interval", "100ms",
      "--anomaly-failed-per-address", "5",
      "--anomaly-failed-per-key", "3",
      "--anomaly-sensitive-tags", "path=/admin*",
    ],
  }).start();
  try {
    const { apiId } = await s.ok("apis.createApi", { name: "helpdesk" });
    const a = await s.ok("keys.createKey", { apiId });
    const b = await s.ok("keys.createKey", { apiId });
    await s.ok("keys.updateKey", { keyId: b.keyId, enabled: false });
    for (let i = 0; i < 5; i++) {
      await s.ok("keys.verifyKey", { key: `hd_guess${i}000000000000000000000000000` });
    }
    for (let i = 0; i < 3; i++) await s.ok("keys.verifyKey", { key: b.key });
    await s.ok("keys.verifyKey", { key: a.key, tags: ["path=/admin/users"] });
    await s.ok("keys.verifyKey", { key: a.key, tags: ["path=/tickets"] });

    const found = await eventually(() => {
      const d = detections(s);
      assert.ok(d.some((x) => x.kind === "anomaly.failed_burst" && x.keyId === b.keyId), "by key");
      assert.ok(d.some((x) => x.kind === "anomaly.sensitive_route"), "sensitive tag");
      return d;
    });
    const byAddress = found.find((x) => x.kind === "anomaly.failed_burst" && !x.keyId);
    assert.equal(byAddress.clientAddress, "127.0.0.1");
    // Rows of a flush are judged whole, so the count may pass the threshold by a few.
    assert.ok(byAddress.count >= 5 && byAddress.count <= 8, JSON.stringify(byAddress));
    assert.equal(byAddress.threshold, 5);
    const byKey = found.find((x) => x.kind === "anomaly.failed_burst" && x.keyId === b.keyId);
    assert.equal(byKey.count, 3);
    assert.deepEqual(byKey.addresses, ["127.0.0.1"]);
    const sensitive = found.find((x) => x.kind === "anomaly.sensitive_route");
    assert.equal(sensitive.keyId, a.keyId);
    assert.equal(sensitive.matched, "tag path=/admin/users (path=/admin*)");
    assert.equal(found.filter((x) => x.kind === "anomaly.sensitive_route").length, 1);
    for (const key of [a.key, b.key, s.rootKey]) assert.ok(!s.stderr.includes(key));
    // Each detection is an alert too, with its evidence, for webhooks and alerts.list.
    const alerts = await eventually(async () => {
      const list = await s.ok("alerts.list", { kind: "anomaly.failed_burst" });
      assert.equal(list.length, 2, JSON.stringify(list));
      return list;
    });
    const keyAlert = alerts.find((x) => x.keyId === b.keyId);
    assert.equal(keyAlert.evidence.threshold, 3);
    assert.deepEqual(keyAlert.evidence.addresses, ["127.0.0.1"]);
    const [tagAlert] = await s.ok("alerts.list", { kind: "anomaly.sensitive_route" });
    assert.equal(tagAlert.evidence.matched, "tag path=/admin/users (path=/admin*)");
    const everything = JSON.stringify(await s.ok("alerts.list", {}));
    for (const key of [a.key, b.key, s.rootKey]) assert.ok(!everything.includes(key));
  } finally {
    await s.stop();
  }
});

test("a burst of failures cut by a kill -9 is completed after the restart", async () => {
  const args = [
    "--usage-flush-interval", "100ms",
    "--anomaly-failed-per-key", "6",
    "--anomaly-failed-per-address", "0",
  ];
  const s = await new Server({ args }).start();
  const { apiId } = await s.ok("apis.createApi", { name: "helpdesk" });
  const b = await s.ok("keys.createKey", { apiId });
  await s.ok("keys.updateKey", { keyId: b.keyId, enabled: false });
  for (let i = 0; i < 3; i++) await s.ok("keys.verifyKey", { key: b.key });
  // Journaled (the minute is open), then killed before the minute is written.
  await eventually(() => {
    const n = execFileSync(
      "sqlite3",
      [
        "-cmd", ".timeout 5000", path.join(s.dataDir, "keyhold.db"),
        "SELECT coalesce(sum(json_extract(r.value, '$[7]')), 0) FROM usage_journal j, " +
          "json_each(j.rows) r UNION ALL SELECT coalesce(sum(count), 0) FROM usage_events",
      ],
      { encoding: "utf8" },
    );
    assert.equal(n.split("\n").filter(Boolean).map(Number).reduce((x, y) => x + y, 0), 3);
  });
  await s.stop("SIGKILL");
  assert.deepEqual(detections(s), []);

  const again = await new Server({ dataDir: s.dataDir, args }).start();
  again.rootKey = s.rootKey;
  try {
    for (let i = 0; i < 3; i++) await again.ok("keys.verifyKey", { key: b.key });
    const [burst] = await eventually(() => {
      const d = detections(again).filter((x) => x.kind === "anomaly.failed_burst");
      assert.equal(d.length, 1);
      return d;
    });
    assert.equal(burst.keyId, b.keyId);
    assert.equal(burst.count, 6, "three before the kill, three after, each counted once");
    assert.ok(!again.stderr.includes(b.key));
  } finally {
    await again.stop();
  }
});

test("malformed anomaly settings stop the server with the setting named", async () => {
  const s = new Server({ args: ["--anomaly-spike-z", "lots"] });
  await assert.rejects(s.start(), /anomaly_spike_z/);
});

test("anomaly detection can be switched off", async () => {
  const s = await new Server({
    args: ["--usage-flush-interval", "100ms", "--anomaly-detection", "false",
      "--anomaly-failed-per-address", "1"],
  }).start();
  try {
    await s.ok("keys.verifyKey", { key: "hd_guess000000000000000000000000000" });
    await s.ok("keys.verifyKey", { key: "hd_guess100000000000000000000000000" });
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(detections(s), []);
  } finally {
    await s.stop();
  }
});

test("a key whose credits fall below the threshold raises key.credits_low once", async () => {
  const s = await new Server({ args: ["--credits-low-threshold", "10"] }).start();
  try {
    const { apiId } = await s.ok("apis.createApi", { name: "billing" });
    const { key, keyId } = await s.ok("keys.createKey", { apiId, credits: { remaining: 12 } });
    for (let i = 0; i < 5; i++) assert.equal((await s.ok("keys.verifyKey", { key })).code, "VALID");
    const [alert] = await eventually(async () => {
      const list = await s.ok("alerts.list", { kind: "key.credits_low" });
      assert.equal(list.length, 1);
      return list;
    });
    assert.equal(alert.keyId, keyId);
    assert.deepEqual(alert.evidence, { keyId, remaining: 9, threshold: 10 });
    assert.equal(alert.count, 1, "only the crossing raises it");
    assert.ok(!JSON.stringify(alert).includes(key));
  } finally {
    await s.stop();
  }
});

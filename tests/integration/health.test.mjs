// Liveness and readiness for orchestrators: /health/live answers while the process serves;
// /health/ready is 503 while the store does not answer (here: its database file moved away).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawn, execFileSync } from "node:child_process";
import { BIN, Server, eventually, tempDir } from "../lib/keyhold.mjs";

async function get(s, p) {
  const r = await fetch(`${s.url}${p}`);
  return { status: r.status, body: await r.json(), headers: r.headers };
}

test("live and ready once started; not ready while the store is gone; ready again after", async () => {
  const s = await new Server().start();
  try {
    assert.match(s.stderr, /loading keys; health checks answered on 127\.0\.0\.1:\d+/);
    let r = await get(s, "/health/live");
    assert.deepEqual([r.status, r.body], [200, { status: "ok" }]);
    r = await eventually(async () => {
      const x = await get(s, "/health/ready");
      assert.equal(x.status, 200);
      return x;
    });
    assert.deepEqual(r.body, { status: "ready" });
    assert.equal(r.headers.get("cache-control"), "no-store");
    r = await get(s, "/health");
    assert.equal(r.status, 200);
    assert.equal(r.body.status, "ok");
    assert.equal(r.body.ready, true);

    const db = path.join(s.dataDir, "keyhold.db");
    fs.renameSync(db, db + ".away");
    r = await eventually(async () => {
      const x = await get(s, "/health/ready");
      assert.equal(x.status, 503);
      return x;
    }, 10000);
    assert.deepEqual(r.body, { status: "store_unreachable" });
    assert.equal(r.headers.get("retry-after"), "1");
    assert.equal((await get(s, "/health/live")).status, 200); // alive: no restart needed
    assert.equal((await get(s, "/health")).body.ready, false);
    assert.match(s.stderr, /the store does not answer, or .*keyhold\.db was removed or replaced: not ready/);

    fs.renameSync(db + ".away", db);
    await eventually(async () => assert.equal((await get(s, "/health/ready")).status, 200), 10000);

    r = await fetch(`${s.url}/health/ready`, { method: "POST" });
    assert.equal(r.status, 405);
    assert.equal((await fetch(`${s.url}/health/other`)).status, 404);
  } finally {
    await s.stop();
  }
});

// Loading 50,000 keys takes long enough to be seen: meanwhile the process is live, not ready, and
// answers every other path 503; once the keys are loaded it is ready.
test("while the keys load: live, not ready, and every other path 503", async () => {
  const top = tempDir("loading");
  const dir = path.join(top, "data");
  execFileSync(BIN, ["bench", "seed", "--data-dir", dir, "--keys", "50000", "--out", path.join(top, "keys.txt")]);
  const proc = spawn(BIN, ["serve", "--data-dir", dir, "--listen", "127.0.0.1:0"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr.on("data", (d) => (err += d));
  try {
    const addr = await eventually(() => {
      const m = /health checks answered on (\S+)/.exec(err);
      assert.ok(m, err);
      return m[1];
    }, 30000, 2);
    const seen = [];
    while (!/listening on/.test(err)) {
      assert.equal(proc.exitCode, null, err);
      const [ready, live, other] = await Promise.all(["/health/ready", "/health/live", "/v2/keys.verifyKey"]
        .map((p) => fetch(`http://${addr}${p}`, p.startsWith("/v2") ? { method: "POST", body: "{}" } : {})
          .then(async (r) => [r.status, await r.text()]).catch(() => null)));
      if (ready && ready[0] === 503) seen.push({ ready, live, other });
    }
    assert.ok(seen.length > 0, "some answer came while the keys loaded");
    for (const { ready, live, other } of seen) {
      assert.deepEqual(JSON.parse(ready[1]), { status: "loading" });
      if (live) assert.equal(live[0], 200);
      // 503 from the listener that answers while keys load; the full listener, taking over the
      // address a moment before it logs, refuses a request without a root key (401) and is not
      // ready until it has logged: never a request served before the keys are in.
      if (other) assert.ok([503, 401].includes(other[0]), `${other[0]} ${other[1]}`);
    }
    assert.ok(seen.some(({ other }) => other && other[0] === 503), "other paths are answered 503 while loading");
    const port = /listening on http:\/\/\S+:(\d+)/.exec(err)[1];
    await eventually(async () => assert.equal((await fetch(`http://127.0.0.1:${port}/health/ready`)).status, 200));
  } finally {
    proc.kill("SIGTERM");
    await new Promise((r) => proc.on("exit", r));
  }
});

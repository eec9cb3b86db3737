// Liveness and readiness for orchestrators: /health/live answers while the process serves;
// /health/ready is 503 while the store does not answer (here: its database file moved away).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Server, eventually } from "../lib/keyhold.mjs";

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

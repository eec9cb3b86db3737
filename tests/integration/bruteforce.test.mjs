// Brute-force protection: an end-user address (forwarded by a trusted proxy) that keeps failing
// verification is answered RATE_LIMITED for a cool-down; the application's own address never is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Server, eventually } from "../lib/keyhold.mjs";

test("an address that keeps guessing keys is refused for the cool-down, and logged", async () => {
  const s = await new Server({
    args: ["--trusted-proxies", "127.0.0.1", "--brute-force-threshold", "4", "--brute-force-cooldown", "2s"],
  }).start();
  try {
    const { apiId } = await s.ok("apis.createApi", { name: "helpdesk" });
    const { key } = await s.ok("keys.createKey", { apiId });
    const from = (address) => ({ headers: { "x-forwarded-for": address } });
    const verify = async (k, address) => {
      const r = await s.call("keys.verifyKey", { key: k }, undefined, address ? from(address) : {});
      assert.equal(r.status, 200, r.text);
      return r.body.data;
    };
    for (let i = 0; i < 4; i++) {
      assert.equal((await verify(`hd_guess${i}0000000000000000000000000000`, "198.51.100.7")).code, "NOT_FOUND");
    }
    const refused = await verify(key, "198.51.100.7");
    assert.equal(refused.code, "RATE_LIMITED", "even a valid key, from that address");
    assert.equal(refused.keyId, undefined, "nothing about the key is told");
    assert.equal((await verify(key, "198.51.100.8")).code, "VALID");
    for (let i = 0; i < 8; i++) await verify(`hd_guess${i}0000000000000000000000000000`);
    assert.equal((await verify(key)).code, "VALID", "the caller's own address is not guarded");
    await eventually(() => {
      const line = s.stderr.split("\n").find((l) => l.includes("brute force:"));
      assert.ok(line, "logged");
      assert.match(line, /"address":"198\.51\.100\.7"/);
      assert.match(line, /"failures":4/);
    });
    const [alert] = await eventually(async () => {
      const list = await s.ok("alerts.list", { kind: "anomaly.brute_force" });
      assert.equal(list.length, 1);
      return list;
    });
    assert.equal(alert.evidence.address, "198.51.100.7");
    assert.equal(alert.evidence.failures, 4);
    await eventually(async () => assert.equal((await verify(key, "198.51.100.7")).code, "VALID"), 5000, 200);
    assert.ok(!s.stderr.includes(key));
  } finally {
    await s.stop();
  }
});

test("failed /v1 token checks count into the same guard; a blocked address is 429 before its token", async () => {
  const s = await new Server({
    args: ["--trusted-proxies", "127.0.0.1", "--brute-force-threshold", "3", "--brute-force-cooldown", "3s"],
  }).start();
  try {
    const v1 = async (token, address, path = "secret/data/bf/x") => {
      const headers = {};
      if (token !== undefined) headers["x-vault-token"] = token;
      if (address) headers["x-forwarded-for"] = address;
      const r = await fetch(`${s.url}/v1/${path}`, { headers });
      const text = await r.text();
      return { status: r.status, retryAfter: r.headers.get("retry-after"), body: text ? JSON.parse(text) : undefined };
    };
    // Two wrong tokens on /v1, one wrong key on keys.verifyKey: the third failure blocks.
    for (const token of ["hvs.wrong", "khr_notakey0000000000000000000000000"]) {
      assert.equal((await v1(token, "198.51.100.9")).status, 403);
    }
    assert.equal((await v1(undefined, "198.51.100.9")).status, 403, "no token is no guess");
    const verify = await s.call("keys.verifyKey", { key: "bf_guess00000000000000000000000000" }, undefined, {
      headers: { "x-forwarded-for": "198.51.100.9" },
    });
    assert.equal(verify.body.data.code, "NOT_FOUND");
    const blocked = await v1(s.rootKey, "198.51.100.9");
    assert.equal(blocked.status, 429, JSON.stringify(blocked.body));
    assert.equal(blocked.body.errors.length, 1);
    assert.ok(Number(blocked.retryAfter) >= 1 && Number(blocked.retryAfter) <= 3, blocked.retryAfter);
    assert.equal((await v1(s.rootKey, "198.51.100.9", "secret/metadata/?list=true")).status, 429);
    // Verifications from the address are refused too: one guard.
    const refused = await s.call("keys.verifyKey", { key: "bf_guess00000000000000000000000000" }, undefined, {
      headers: { "x-forwarded-for": "198.51.100.9" },
    });
    assert.equal(refused.body.data.code, "RATE_LIMITED");
    assert.equal((await v1(s.rootKey, "198.51.100.10")).status, 404, "another address is served");
    for (let i = 0; i < 5; i++) assert.equal((await v1("hvs.wrong")).status, 403);
    assert.equal((await v1(s.rootKey)).status, 404, "the caller's own address is not guarded");
    await eventually(() => assert.match(s.stderr, /brute force:.*"address":"198\.51\.100\.9"/));
    await eventually(async () => assert.equal((await v1(s.rootKey, "198.51.100.9")).status, 404), 6000, 200);
    assert.ok(!s.stderr.includes(s.rootKey));
  } finally {
    await s.stop();
  }
});

test("malformed brute-force settings stop the server with the setting named", async () => {
  await assert.rejects(new Server({ args: ["--brute-force-cooldown", "soon"] }).start(), /brute_force_cooldown/);
});

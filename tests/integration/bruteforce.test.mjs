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

test("malformed brute-force settings stop the server with the setting named", async () => {
  await assert.rejects(new Server({ args: ["--brute-force-cooldown", "soon"] }).start(), /brute_force_cooldown/);
});

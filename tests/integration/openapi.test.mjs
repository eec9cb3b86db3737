// docs/api/openapi.yaml must describe exactly the operations the server routes.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { Server } from "../lib/keyhold.mjs";

const root = new URL("../../", import.meta.url);
const doc = fs.readFileSync(new URL("docs/api/openapi.yaml", root), "utf8");
const source = fs.readFileSync(new URL("src/http/unkey/unkey_api.cc", root), "utf8");
// keyhold's secret-rotation operations live in a surface of their own under /v2/secrets.
const rotation = fs.readFileSync(new URL("src/http/unkey/rotation_api.cc", root), "utf8");

test("every routed operation is documented and every documented one is routed", async () => {
  const documented = new Set([...doc.matchAll(/^ {2}\/v2\/([A-Za-z]+\.[A-Za-z]+):$/gm)].map((m) => m[1]));
  const routed = new Set([...source.matchAll(/\{"([A-Za-z]+\.[A-Za-z]+)", \{&UnkeyApi::/g)].map((m) => m[1]));
  for (const m of rotation.matchAll(/"(secrets\.[A-Za-z]+)"/g)) routed.add(m[1]);
  assert.ok(routed.size > 30);
  assert.deepEqual([...documented].sort(), [...routed].sort());
  const s = await new Server().start();
  for (const op of documented) {
    const r = await s.call(op, {});
    assert.ok(!(r.status === 404 && /route_not_found/.test(r.text)), `${op} is routed`);
    assert.ok(r.body?.meta?.requestId, `${op} answers with the envelope`);
  }
  await s.stop();
});

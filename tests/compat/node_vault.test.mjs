// The node-vault client, installed from npm, used against keyhold as an application uses Vault's
// KV version 2: VAULT_ADDR and VAULT_TOKEN pointed at keyhold, nothing else changed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import vault from "node-vault";
import { Server, cli, tempDir } from "../lib/keyhold.mjs";

let s;
let v;
const plaintexts = [];

function secret(label) {
  const value = `${label}-${Math.random().toString(36).slice(2)}${Date.now()}`;
  plaintexts.push(value);
  return value;
}

before(async () => {
  s = await new Server().start();
  v = vault({ endpoint: s.url, token: s.rootKey });
});
after(async () => {
  const { code } = await s.stop();
  assert.equal(code, 0);
  // No value written during this suite is anywhere in the data directory or the server's output.
  const files = fs.readdirSync(s.dataDir).map((f) => path.join(s.dataDir, f));
  const stored = files.map((f) => fs.readFileSync(f).toString("latin1")).join("\n");
  for (const p of plaintexts) {
    assert.equal(stored.includes(p), false, "a secret value is in the data directory");
    assert.equal(s.stdout.includes(p) || s.stderr.includes(p), false, "a secret value was logged");
  }
});

test("write, read, and read a version", async () => {
  const first = secret("smtp");
  const w1 = await v.write("secret/data/helpdesk/smtp", { data: { password: first, user: "mailer" } });
  assert.equal(w1.data.version, 1);
  assert.match(w1.data.created_time, /^\d{4}-\d\d-\d\dT/);
  const second = secret("smtp");
  await v.write("secret/data/helpdesk/smtp", { data: { password: second, user: "mailer" } });
  const latest = await v.read("secret/data/helpdesk/smtp");
  assert.deepEqual(latest.data.data, { password: second, user: "mailer" });
  assert.equal(latest.data.metadata.version, 2);
  assert.equal(latest.data.metadata.destroyed, false);
  assert.equal(latest.data.metadata.deletion_time, "");
  assert.equal(typeof latest.request_id, "string");
  assert.equal(latest.lease_id, "");
  assert.equal(latest.renewable, false);
  const old = await v.read("secret/data/helpdesk/smtp?version=1");
  assert.equal(old.data.data.password, first);
});

test("a missing secret is a 404 the client reports", async () => {
  await assert.rejects(v.read("secret/data/helpdesk/nothing"), (e) => e.response.statusCode === 404);
});

test("list, with the LIST verb and with ?list=true", async () => {
  await v.write("secret/data/helpdesk/imap", { data: { password: secret("imap") } });
  await v.write("secret/data/crm/stripe", { data: { key: secret("stripe") } });
  const top = await v.list("secret/metadata/");
  assert.deepEqual(top.data.keys, ["crm/", "helpdesk/"]);
  const hd = await v.list("secret/metadata/helpdesk");
  assert.deepEqual(hd.data.keys, ["imap", "smtp"]);
  const plain = vault({ endpoint: s.url, token: s.rootKey, noCustomHTTPVerbs: true });
  const again = await plain.list("secret/metadata/helpdesk/");
  assert.deepEqual(again.data.keys, ["imap", "smtp"]);
  await assert.rejects(v.list("secret/metadata/empty/"), (e) => e.response.statusCode === 404);
});

test("delete, undelete, destroy", async () => {
  await v.write("secret/data/app/db", { data: { password: secret("db1") } });
  await v.write("secret/data/app/db", { data: { password: secret("db2") } });
  await v.delete("secret/data/app/db"); // the current version, softly
  const gone = await v.read("secret/data/app/db").catch((e) => e.response);
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.body.data.data, null);
  assert.equal(gone.body.data.metadata.version, 2);
  assert.notEqual(gone.body.data.metadata.deletion_time, "");
  await v.write("secret/undelete/app/db", { versions: [2] });
  assert.equal((await v.read("secret/data/app/db")).data.metadata.version, 2);
  await v.destroySecretVersions({ path: "app/db", versions: [1] });
  const destroyed = await v.read("secret/data/app/db?version=1").catch((e) => e.response);
  assert.equal(destroyed.statusCode, 404);
  assert.equal(destroyed.body.data.metadata.destroyed, true);
  await v.write("secret/delete/app/db", { versions: [2] });
  const meta = await v.read("secret/metadata/app/db");
  assert.equal(meta.data.current_version, 2);
  assert.equal(meta.data.versions["1"].destroyed, true);
  assert.notEqual(meta.data.versions["2"].deletion_time, "");
});

test("metadata: max_versions, custom_metadata, delete", async () => {
  await v.write("secret/metadata/app/api", {
    max_versions: 2,
    custom_metadata: { owner: "platform", rotate: "quarterly" },
  });
  for (let i = 0; i < 3; i++) await v.write("secret/data/app/api", { data: { token: secret("api") } });
  const meta = await v.read("secret/metadata/app/api");
  assert.equal(meta.data.max_versions, 2);
  assert.equal(meta.data.current_version, 3);
  assert.equal(meta.data.oldest_version, 2);
  assert.deepEqual(Object.keys(meta.data.versions), ["2", "3"]);
  assert.deepEqual(meta.data.custom_metadata, { owner: "platform", rotate: "quarterly" });
  assert.equal(meta.data.delete_version_after, "0s");
  await v.delete("secret/metadata/app/api");
  await assert.rejects(v.read("secret/metadata/app/api"), (e) => e.response.statusCode === 404);
  await assert.rejects(v.read("secret/data/app/api"), (e) => e.response.statusCode === 404);
});

test("check-and-set", async () => {
  await v.write("secret/data/app/cas", { options: { cas: 0 }, data: { v: secret("cas") } });
  await assert.rejects(
    v.write("secret/data/app/cas", { options: { cas: 0 }, data: { v: "x" } }),
    (e) => e.response.statusCode === 400 && /check-and-set/.test(e.message),
  );
  const w = await v.write("secret/data/app/cas", { options: { cas: 1 }, data: { v: secret("cas") } });
  assert.equal(w.data.version, 2);
  await v.write("secret/config", { cas_required: true });
  await assert.rejects(
    v.write("secret/data/app/cas", { data: { v: "x" } }),
    (e) => e.response.statusCode === 400 && /required/.test(e.message),
  );
  const config = await v.read("secret/config");
  assert.equal(config.data.cas_required, true);
  await v.write("secret/config", { cas_required: false });
});

test("patch merges into the current version", async () => {
  const pw = secret("patch");
  await v.write("secret/data/app/patch", { data: { user: "u", password: secret("old") } });
  const r = await v.update("secret/data/app/patch", { data: { password: pw } });
  assert.equal(r.data.version, 2);
  assert.deepEqual((await v.read("secret/data/app/patch")).data.data, { user: "u", password: pw });
});

test("token lookup-self and health", async () => {
  const self = await v.tokenLookupSelf();
  assert.match(self.data.id, /^key_/);
  assert.deepEqual(self.data.policies, ["root"]);
  assert.equal(JSON.stringify(self).includes(s.rootKey), false);
  const health = await v.health();
  assert.equal(health.initialized, true);
  assert.equal(health.sealed, false);
});

test("an unknown or insufficient token is Vault's 403", async () => {
  const stranger = vault({ endpoint: s.url, token: "khr_notarealkey" });
  await assert.rejects(stranger.read("secret/data/helpdesk/smtp"), (e) => {
    assert.equal(e.response.statusCode, 403);
    assert.deepEqual(e.response.body, { errors: ["permission denied"] });
    return true;
  });
  const narrow = await s.ok("rootKeys.createRootKey", {
    name: "helpdesk-app",
    permissions: ["secret.read:secret/helpdesk/*", "secret.list:secret/helpdesk/*"],
  });
  const app = vault({ endpoint: s.url, token: narrow.key });
  assert.ok((await app.read("secret/data/helpdesk/smtp")).data.data.password);
  await assert.rejects(app.read("secret/data/crm/stripe"), (e) => e.response.statusCode === 403);
  await assert.rejects(
    app.write("secret/data/helpdesk/smtp", { data: { password: "x" } }),
    (e) => e.response.statusCode === 403,
  );
  assert.deepEqual((await app.list("secret/metadata/")).data.keys, ["helpdesk/"]);
});

test("a sealed server: status(), health(), a sealed read, unseal() share by share", async () => {
  const dataDir = path.join(tempDir(), "data");
  const init = await cli(["operator", "init-shares", "--data-dir", dataDir, "--shares", "3", "--threshold", "2", "--json"]);
  assert.equal(init.code, 0, init.stderr);
  const { unseal_keys_b64: shares, rootKey } = JSON.parse(init.stdout);
  const sealed = await new Server({ dataDir }).start();
  try {
    const sv = vault({ endpoint: sealed.url, token: rootKey });
    let status = await sv.status();
    assert.deepEqual([status.sealed, status.t, status.n, status.progress], [true, 2, 3, 0]);
    // node-vault takes any sys/health answer as a result, as Vault's status codes carry the state.
    assert.equal((await sv.health()).sealed, true);
    assert.equal((await sv.health({ sealedcode: 200 })).sealed, true);
    await assert.rejects(sv.read("secret/data/app/db"), (e) => {
      assert.equal(e.response.statusCode, 503);
      assert.deepEqual(e.response.body, { errors: ["Vault is sealed"] });
      return true;
    });
    status = await sv.unseal({ key: shares[2] });
    assert.deepEqual([status.sealed, status.progress], [true, 1]);
    status = await sv.unseal({ key: shares[0] });
    assert.equal(status.sealed, false);
    assert.equal((await sv.health()).sealed, false);
    await sv.write("secret/data/app/db", { data: { password: secret("db") } });
    assert.equal((await sv.read("secret/data/app/db")).data.metadata.version, 1);
  } finally {
    await sealed.stop();
  }
  for (const share of shares) {
    assert.equal(sealed.stderr.includes(share) || sealed.stdout.includes(share), false, "a share was logged");
  }
});

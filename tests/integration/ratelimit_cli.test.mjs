// `keyhold ratelimit limit` and `keyhold ratelimit overrides set|get|list|delete` against a
// running server: output, --json, --quiet, pagination, errors and exit codes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Server, cli } from "../lib/keyhold.mjs";

let s;
let env;
// Everything every command printed, for the check that the root key never appears.
const printed = [];

async function rl(args, options = {}) {
  const r = await cli(["ratelimit", ...args], { env, ...options });
  printed.push(r.stdout, r.stderr);
  return r;
}

before(async () => {
  s = await new Server().start();
  env = { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: s.rootKey };
});
after(async () => {
  for (const out of printed) assert.ok(!out.includes(s.rootKey), "the root key is never printed");
  await s.stop();
});

test("limit: allowed (exit 0), then limited (exit 1), human and --json", async () => {
  const args = ["limit", "sms.sign_up", "user_1", "--limit", "2", "--duration", "60000"];
  let r = await rl(args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^success {4}true\nlimit {6}2\nremaining {2}1\nreset {6}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n$/);
  r = await rl([...args, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const allowed = JSON.parse(r.stdout);
  assert.deepEqual([allowed.success, allowed.limit, allowed.remaining], [true, 2, 0]);
  assert.ok(allowed.reset > Date.now() && allowed.reset <= Date.now() + 60000);

  r = await rl(args);
  assert.equal(r.code, 1, "a refused request is exit 1, as keys verify of a key not valid");
  assert.match(r.stdout, /^success {4}false\n/);
  assert.equal(r.stderr, "");
  r = await rl([...args, "--json"]);
  assert.equal(r.code, 1);
  assert.equal(JSON.parse(r.stdout).success, false);
  r = await rl([...args, "--quiet"]);
  assert.deepEqual([r.code, r.stdout], [1, ""]);

  // Cost 0 only reads; a duration with a unit is the same as its milliseconds.
  r = await rl(["limit", "sms.sign_up", "user_2", "--limit", "5", "--duration", "1m", "--cost", "0", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).remaining, 5);
  r = await rl(["limit", "sms.sign_up", "user_2", "--limit", "5", "--duration", "1m", "--cost", "3", "--json"]);
  assert.equal(JSON.parse(r.stdout).remaining, 2);
});

test("overrides: set, get, list and delete, a wildcard one applying to limit", async () => {
  const ns = "api.requests";
  let r = await rl(["overrides", "set", ns, "premium_*", "--limit", "100", "--duration", "60000"]);
  assert.equal(r.code, 0, r.stderr);
  const [wide] = r.stdout.split(/\s+/);
  assert.match(wide, /^rlo_/);
  assert.match(r.stdout, /^rlo_\S+ {2}premium_\* {2}100 per 1m\n$/);
  r = await rl(["overrides", "set", ns, "premium_7", "--limit", "1", "--duration", "2h", "--quiet"]);
  assert.equal(r.code, 0, r.stderr);
  const exact = r.stdout.trim();
  assert.match(exact, /^rlo_/);
  r = await rl(["overrides", "set", ns, "premium_7", "--limit", "3", "--duration", "1500", "--json"]);
  assert.deepEqual(JSON.parse(r.stdout), { overrideId: exact }, "changing an override keeps its id");

  r = await rl(["overrides", "get", ns, "premium_*"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^OVERRIDE ID\s+LIMIT\s+DURATION\s+IDENTIFIER\n/);
  assert.match(r.stdout, new RegExp(`^${wide}\\s+100\\s+1m\\s+premium_\\*$`, "m"));
  r = await rl(["overrides", "get", ns, "premium_7", "--json"]);
  assert.deepEqual(JSON.parse(r.stdout), { overrideId: exact, identifier: "premium_7", limit: 3, duration: 1500 });

  // The wildcard decides the limit of an identifier it matches; the exact one its own.
  r = await rl(["limit", ns, "premium_42", "--limit", "1", "--duration", "1s"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^limit {6}100$/m);
  assert.match(r.stdout, new RegExp(`^override {3}${wide}$`, "m"));
  r = await rl(["limit", ns, "premium_7", "--limit", "1000", "--duration", "1s", "--json"]);
  assert.equal(JSON.parse(r.stdout).overrideId, exact);

  r = await rl(["overrides", "list", ns]);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split("\n");
  assert.match(rows[0], /^OVERRIDE ID\s+LIMIT\s+DURATION\s+IDENTIFIER$/);
  assert.match(rows[1], new RegExp(`^${wide}\\s+100\\s+1m\\s+premium_\\*$`));
  assert.match(rows[2], new RegExp(`^${exact}\\s+3\\s+1500ms\\s+premium_7$`));
  assert.equal(rows.length, 3);

  r = await rl(["overrides", "delete", ns, "premium_*"]);
  assert.deepEqual([r.code, r.stdout], [0, "deleted\n"]);
  r = await rl(["overrides", "list", ns, "--quiet"]);
  assert.equal(r.stdout, `${exact}\n`);
  r = await rl(["limit", ns, "premium_42", "--limit", "1", "--duration", "1s", "--json"]);
  assert.deepEqual([JSON.parse(r.stdout).limit, JSON.parse(r.stdout).overrideId], [1, undefined]);
  r = await rl(["overrides", "delete", ns, "premium_7", "--json"]);
  assert.deepEqual([r.code, JSON.parse(r.stdout)], [0, {}]);
  r = await rl(["overrides", "list", ns]);
  assert.deepEqual([r.code, r.stdout], [0, "no overrides\n"]);
  r = await rl(["overrides", "list", ns, "--json"]);
  assert.deepEqual(JSON.parse(r.stdout), []);

  // A ban: limit 0 refuses every request.
  await rl(["overrides", "set", "bans", "spammer", "--limit", "0", "--duration", "1h"]);
  r = await rl(["limit", "bans", "spammer", "--limit", "10", "--duration", "1s"]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^success {4}false\nlimit {6}0\n/);
});

test("overrides list follows the cursors to the end, or gives one page with --limit / --cursor", async () => {
  const ns = "paged";
  const byId = new Map();
  for (let i = 0; i < 105; i++) {
    const { overrideId } = await s.ok("ratelimit.setOverride", { namespace: ns, identifier: `user_${i}*`, limit: i, duration: 1000 });
    byId.set(overrideId, i);
  }
  // Ids begin with their creation time in milliseconds: two made within one are in either order.
  const ids = [...byId.keys()].sort();
  let r = await rl(["overrides", "list", ns, "--quiet"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), ids, "all 105, over two pages of 100, in id order");
  r = await rl(["overrides", "list", ns, "--json"]);
  const all = JSON.parse(r.stdout);
  assert.equal(all.length, 105);
  const last = byId.get(ids[104]);
  assert.deepEqual(all[104], { overrideId: ids[104], identifier: `user_${last}*`, limit: last, duration: 1000 });
  r = await rl(["overrides", "list", ns]);
  assert.equal(r.stdout.trim().split("\n").length, 106, "a header and every override");
  assert.doesNotMatch(r.stdout, /more:/);

  r = await rl(["overrides", "list", ns, "--limit", "2"]);
  assert.equal(r.code, 0, r.stderr);
  let lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 4);
  assert.match(lines[1], new RegExp(`^${ids[0]}\\s`));
  assert.match(lines[2], new RegExp(`^${ids[1]}\\s`));
  const cursor = lines[3].match(/^more: --cursor (\S+)$/)[1];
  r = await rl(["overrides", "list", ns, "--limit", "2", "--cursor", cursor, "--json"]);
  const page = JSON.parse(r.stdout);
  assert.deepEqual(page.data.map((o) => o.overrideId), ids.slice(2, 4));
  assert.equal(page.pagination.hasMore, true);
  r = await rl(["overrides", "list", ns, "--cursor", ids[100], "--quiet"]);
  assert.deepEqual(r.stdout.trim().split("\n"), ids.slice(101), "the last page");
  r = await rl(["overrides", "list", ns, "--cursor", ids[100]]);
  assert.doesNotMatch(r.stdout, /more:/);
});

test("a missing override: the server's error with its code, exit 1", async () => {
  for (const op of ["get", "delete"]) {
    const r = await rl(["overrides", op, "nowhere", "nobody*"]);
    assert.equal(r.code, 1, op);
    assert.equal(r.stdout, "");
    assert.match(r.stderr,
      /^error: Not Found: no override for this identifier in this namespace \(data\/ratelimit_override_not_found\)\n$/);
  }
  const r = await rl(["overrides", "get", "nowhere", "nobody", "--json"]);
  assert.equal(r.code, 1);
  assert.match(JSON.parse(r.stdout).error.type, /data\/ratelimit_override_not_found$/);
});

test("bad arguments: ranges are the server's 400 (exit 1), malformed words a usage error (exit 2)", async () => {
  for (const [args, location] of [
    [["limit", "n", "x", "--limit", "0", "--duration", "1000"], "body.limit"],
    [["limit", "n", "x", "--limit", "-3", "--duration", "1000"], "body.limit"],
    [["limit", "n", "x", "--limit", "1", "--duration", "999"], "body.duration"],
    [["limit", "n", "x", "--limit", "1", "--duration", "365d"], "body.duration"],
    [["limit", "n", "x", "--limit", "1", "--duration", "1000", "--cost", "-1"], "body.cost"],
    [["overrides", "set", "n", "x", "--limit", "-1", "--duration", "1000"], "body.limit"],
    [["overrides", "set", "n", "x", "--limit", "1", "--duration", "0"], "body.duration"],
    [["overrides", "set", "n", "x", "--limit", "1", "--duration", "99999999999"], "body.duration"],
    [["overrides", "list", "n", "--limit", "0"], "body.limit"],
    [["overrides", "list", "n", "--limit", "101"], "body.limit"],
    [["overrides", "get", "n", "x".repeat(256)], "body.identifier"],
  ]) {
    const r = await rl(args);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^error: Bad Request: .*\(\S+\)\n/, args.join(" "));
    assert.ok(r.stderr.includes(`\n  ${location}: `), `${args.join(" ")}: ${r.stderr}`);
  }
  for (const args of [
    ["limit", "n", "x", "--limit", "1", "--duration", "soon"],
    ["limit", "n", "x", "--limit", "many", "--duration", "1000"],
    ["limit", "n", "x", "--duration", "1000"],
    ["limit", "n", "--limit", "1", "--duration", "1000"],
    ["overrides", "set", "n", "x", "--limit", "1"],
    ["overrides", "get", "n"],
    ["overrides", "list"],
    ["overrides"],
  ]) {
    const r = await rl(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
  }
  const r = await rl(["limit", "n", "x", "--limit", "1", "--duration", "soon"]);
  assert.match(r.stderr, /--duration: 'soon' is neither milliseconds nor a duration/);
});

test("no token, a refused token, an unreachable server", async () => {
  let r = await cli(["ratelimit", "overrides", "list", "n"], { env: { KEYHOLD_ADDR: s.url, KEYHOLD_TOKEN: "" } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /KEYHOLD_TOKEN/);
  const { key } = await s.ok("rootKeys.createRootKey", { permissions: ["ratelimit.sms.read_override"] });
  r = await rl(["overrides", "set", "sms", "x", "--limit", "1", "--duration", "1s"], { env: { ...env, KEYHOLD_TOKEN: key } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: Forbidden: .*ratelimit\.sms\.set_override/);
  assert.ok(!r.stderr.includes(key) && !r.stdout.includes(key));
  r = await rl(["overrides", "list", "sms"], { env: { ...env, KEYHOLD_TOKEN: key } });
  assert.deepEqual([r.code, r.stdout], [0, "no overrides\n"]);
  r = await rl(["limit", "sms", "x", "--limit", "1", "--duration", "1s"], { env: { KEYHOLD_ADDR: "http://127.0.0.1:1", KEYHOLD_TOKEN: s.rootKey } });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /cannot reach the keyhold server at http:\/\/127\.0\.0\.1:1/);
});

test("help and shell completion know the ratelimit commands", async () => {
  const help = await cli(["--help"]);
  assert.match(help.stdout, /^\s+ratelimit\s+check identifiers against rate limits/m);
  const sub = await cli(["ratelimit", "overrides", "--help"]);
  for (const c of ["set", "get", "list", "delete"]) assert.match(sub.stdout, new RegExp(`^\\s+${c}\\s`, "m"));
  const bash = await cli(["completion", "bash"]);
  assert.match(bash.stdout, /"ratelimit overrides"\) echo "set get list delete /);
  assert.match(bash.stdout, /"ratelimit overrides set"\) echo "[^"]*--duration[^"]*--json/);
  const typo = await cli(["ratelimit", "overides", "list", "n"]);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /^keyhold ratelimit: unknown command 'overides'; did you mean 'overrides'\?/);
});

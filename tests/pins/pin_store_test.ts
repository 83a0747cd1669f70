import assert from "node:assert/strict";
import { computePins, PinStore } from "../../src/pins/mod.ts";
import { PeerRejectedError, RevocationError } from "../../src/errors.ts";
import type { LogFields } from "../../src/log/logger.ts";
import { type FixtureCert, makeCert } from "./fixtures.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const dir = await moduleTempDir("pin_store_test_");
const a = await makeCert(dir, "a", "ec-p256");
const b = await makeCert(dir, "b", "ed25519");
const c = await makeCert(dir, "c", "rsa-2048");
const spki = (x: FixtureCert) => `sha256/${x.opensslSpkiPin}`;
let n = 0;
const freshPath = () => `${dir}/store-${n++}/pins.json`;
const clock = () => new Date("2026-11-21T19:00:00.000Z");

Deno.test("PinStore.check() with trust on first use stores the first key, then refuses another showing both pins", async () => {
  const path = freshPath();
  const logs: LogFields[] = [];
  const logger = {
    debug() {},
    info: (_: string, f?: LogFields) => logs.push(f!),
    warn() {},
    error() {},
  };
  const store = await PinStore.open(path, { tofu: true, now: clock, logger });
  assert.equal(store.check("127.0.0.1:8443", a.der), undefined);
  assert.equal(store.check("127.0.0.1:8443", a.der), undefined, "same key again");
  const refusal = store.check("127.0.0.1:8443", b.der, { peer: "127.0.0.1:8443" });
  assert.ok(refusal instanceof PeerRejectedError);
  assert.equal(refusal.code, "pin_mismatch");
  assert.equal(refusal.peer, "127.0.0.1:8443");
  assert.match(refusal.message, /^Pin mismatch for "127\.0\.0\.1:8443": /);
  assert.ok(refusal.message.includes(`presented ${spki(b)}`), refusal.message);
  assert.ok(refusal.message.includes(`expected ${spki(a)}`), refusal.message);
  assert.deepEqual(logs, [{ name: "127.0.0.1:8443", pin: spki(a), peer: undefined }]);

  await store.flush();
  assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), {
    version: 1,
    pins: {
      "127.0.0.1:8443": {
        pins: [spki(a)],
        backup: [],
        firstSeen: "2026-11-21T19:00:00.000Z",
        tofu: true,
      },
    },
  });
  // A restarted process keeps refusing the other key.
  const reopened = await PinStore.open(path, { tofu: true });
  assert.equal(reopened.check("127.0.0.1:8443", a.der), undefined);
  assert.equal(reopened.check("127.0.0.1:8443", b.der)?.code, "pin_mismatch");
});

Deno.test("PinStore.check() admits the right pin and a backup pin, refuses a wrong one", async () => {
  const store = PinStore.memory({ "agent-1": { pins: [a.opensslSpkiPin], backup: [spki(b)] } });
  assert.equal(store.check("agent-1", a.der), undefined);
  assert.equal(store.check("agent-1", b.der), undefined);
  const refusal = store.check("agent-1", c.der);
  assert.equal(refusal?.code, "pin_mismatch");
  assert.ok(
    refusal?.message.endsWith(`expected ${spki(a)} or ${spki(b)} (backup)`),
    refusal?.message,
  );
  await store.add("agent-1", c.opensslFingerprint);
  assert.equal(store.check("agent-1", c.der), undefined, "certificate pin added at runtime");
});

Deno.test("PinStore.check() refuses unknown names unless unknown is allow", () => {
  const deny = PinStore.memory({ known: [spki(a)] });
  const refusal = deny.check("stranger", a.der);
  assert.equal(refusal?.code, "pin_mismatch");
  assert.match(refusal!.message, /expected no pins$/);
  assert.equal(PinStore.memory({}, { unknown: "allow" }).check("stranger", a.der), undefined);
  const tofu = PinStore.memory({}, { tofu: true });
  assert.equal(
    tofu.check("stranger", new Uint8Array([1]))?.code,
    "pin_mismatch",
    "malformed DER is not pinned",
  );
  assert.deepEqual(tofu.names(), []);
});

const CORRUPT: [string, string, RegExp][] = [
  ["not JSON", '{"version": 1, "pins": {', /: not valid JSON \(/],
  ["empty file", "", /: not valid JSON \(/],
  ["wrong version", '{"version": 2, "pins": {}}', /: "version" must be 1, got 2$/],
  [
    "bad pin",
    '{"version": 1, "pins": {"x": {"pins": ["sha256/nope"]}}}',
    /: entry "x": Invalid pin "sha256\/nope"/,
  ],
  [
    "typo in a key",
    '{"version": 1, "pins": {"x": {"pins": [], "backups": []}}}',
    /: entry "x" has unknown key "backups"$/,
  ],
  ["no pins", '{"version": 1, "pins": {"x": {"pins": []}}}', /: entry "x" has no pins$/],
  [
    "pins not an object",
    '{"version": 1, "pins": []}',
    /: "pins" must be an object of name to entry$/,
  ],
];
for (const [what, text, reason] of CORRUPT) {
  Deno.test(`PinStore.open() reports a corrupt pin file (${what}) and leaves it byte-for-byte intact`, async () => {
    const path = freshPath();
    await Deno.mkdir(path.replace(/\/pins\.json$/, ""));
    const bytes = new TextEncoder().encode(text);
    await Deno.writeFile(path, bytes);
    await assert.rejects(PinStore.open(path, { tofu: true }), (e: unknown) => {
      assert.ok(e instanceof RevocationError);
      assert.equal(e.code, "pin_store_corrupt");
      assert.ok(e.message.startsWith(`Cannot load pin file "${path}": `), e.message);
      assert.match(e.message, reason);
      return true;
    });
    assert.deepEqual(await Deno.readFile(path), bytes);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(path.replace(/\/pins\.json$/, "")))).map((e) => e.name),
      ["pins.json"],
    );
  });
}

Deno.test("PinStore.reload() of a corrupted file keeps the old pins in force and never rewrites the file", async () => {
  const path = freshPath();
  const store = await PinStore.open(path, { tofu: true });
  await store.add("server:443", spki(a));
  const broken = new TextEncoder().encode(
    '{"version": 1, "pins": {"server:443": {"pins": ["sha256/trunc',
  );
  await Deno.writeFile(path, broken);
  await assert.rejects(store.reload(), { code: "pin_store_corrupt" });
  assert.equal(store.check("server:443", a.der), undefined);
  assert.equal(store.check("server:443", b.der)?.code, "pin_mismatch");
  // A first-use pin while the file is broken is kept in memory only.
  assert.equal(store.check("new:443", c.der), undefined);
  await assert.rejects(store.flush(), { code: "pin_store_corrupt" });
  assert.deepEqual(await Deno.readFile(path), broken);
  // Once the operator fixes the file, writes resume.
  await Deno.writeTextFile(
    path,
    JSON.stringify({ version: 1, pins: { "server:443": { pins: [spki(b)] } } }),
  );
  await store.reload();
  assert.equal(store.check("server:443", b.der), undefined);
  await store.add("server:443", spki(c), { backup: true });
  assert.deepEqual(JSON.parse(await Deno.readTextFile(path)).pins["server:443"], {
    pins: [spki(b)],
    backup: [spki(c)],
  });
});

Deno.test("PinStore trust on first use: concurrent first connections for one name pin exactly one key", async () => {
  const path = freshPath();
  const store = await PinStore.open(path, { tofu: true });
  const keys = [a, b, c, a, b, c, a, b, c, a];
  const outcomes = await Promise.all(keys.map(async (k, i) => {
    await new Promise((r) => setTimeout(r, (i * 7) % 5));
    return { k, refusal: store.check("race:8443", k.der) };
  }));
  await store.flush();
  const stored = (await PinStore.open(path)).get("race:8443")!.pins;
  assert.equal(stored.length, 1);
  const winner = [a, b, c].find((k) => spki(k) === stored[0])!;
  for (const { k, refusal } of outcomes) {
    assert.equal(
      refusal === undefined,
      k === winner,
      `${k.crt} admitted only if it is the stored key`,
    );
  }
});

Deno.test("PinStore trust on first use: concurrent first connections for many names lose no pin in the file", async () => {
  const path = freshPath();
  const store = await PinStore.open(path, { tofu: true });
  const names = Array.from({ length: 50 }, (_, i) => `host-${i}:443`);
  await Promise.all(names.map(async (name, i) => {
    await new Promise((r) => setTimeout(r, i % 3));
    assert.equal(store.check(name, [a, b, c][i % 3].der), undefined);
    if (i % 10 === 0) await store.add(name, spki(c), { backup: true });
  }));
  await store.flush();
  const reopened = await PinStore.open(path);
  assert.deepEqual(reopened.names(), [...names].sort());
  assert.deepEqual(reopened.get("host-10:443")?.backup, [spki(c)]);
  assert.deepEqual(reopened.get("host-4:443")?.pins, [spki(b)]);
});

Deno.test("PinStore.add() and remove() persist atomically and validate pins", async () => {
  const path = freshPath();
  const store = await PinStore.open(path);
  assert.deepEqual(store.names(), [], "a missing file is an empty store");
  await store.add("x", a.opensslSpkiPin);
  await store.add("x", a.opensslSpkiPin); // no duplicate
  await store.add("x", b.opensslFingerprint, { backup: true });
  await assert.rejects(store.add("x", "not-a-pin"), { code: "invalid_argument" });
  assert.deepEqual((await PinStore.open(path)).get("x")?.pins, [spki(a)]);
  assert.equal(await store.remove("x", spki(a)), true);
  assert.equal(await store.remove("x", spki(a)), false);
  assert.deepEqual((await PinStore.open(path)).get("x")?.pins, []);
  assert.equal(await store.remove("x"), true);
  assert.deepEqual((await PinStore.open(path)).names(), []);
  assert.equal(computePins(a.der).spki, spki(a));
});

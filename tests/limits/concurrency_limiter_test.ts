import assert from "node:assert/strict";
import { createConcurrencyLimiter } from "../../src/limits/mod.ts";

Deno.test("createConcurrencyLimiter() enforces the per-key maximum without affecting other keys", () => {
  const cl = createConcurrencyLimiter({ max: 10, perKey: 2 });
  const r1 = cl.acquire("a"), r2 = cl.acquire("a");
  assert.ok(r1 && r2);
  assert.equal(cl.acquire("a"), null);
  assert.ok(cl.acquire("b"));
  assert.equal(cl.activeFor("a"), 2);
  r1();
  assert.ok(cl.acquire("a"), "a slot came back");
});

Deno.test("createConcurrencyLimiter() enforces the overall maximum", () => {
  const cl = createConcurrencyLimiter({ max: 3, perKey: 3 });
  const releases = ["a", "b", "c"].map((k) => cl.acquire(k));
  assert.equal(cl.acquire("d"), null);
  assert.equal(cl.active, 3);
  releases[1]!();
  assert.ok(cl.acquire("d"));
});

Deno.test("createConcurrencyLimiter() release is idempotent and forgets idle keys", () => {
  const cl = createConcurrencyLimiter({ max: 2, perKey: 1 });
  const release = cl.acquire("a")!;
  release();
  release();
  assert.equal(cl.active, 0);
  assert.equal(cl.activeFor("a"), 0);
  const again = cl.acquire("a");
  const other = cl.acquire("b");
  assert.ok(again && other);
  release(); // a stale release must not free the new holder's slot
  assert.equal(cl.active, 2);
  assert.equal(cl.acquire("c"), null);
});

Deno.test("createConcurrencyLimiter() defaults allow 32 per key and 1024 overall", () => {
  const cl = createConcurrencyLimiter();
  for (let i = 0; i < 32; i++) assert.ok(cl.acquire("a"));
  assert.equal(cl.acquire("a"), null);
  for (let i = 0; i < 1024 - 32; i++) assert.ok(cl.acquire(`k${i}`));
  assert.equal(cl.acquire("z"), null);
});

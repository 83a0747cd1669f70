import assert from "node:assert/strict";
import { createRateLimiter } from "../../src/limits/mod.ts";
import { ConfigError } from "../../src/errors.ts";

function clock(start = 0) {
  let t = start;
  return { now: () => t, set: (v: number) => void (t = v) };
}

Deno.test("createRateLimiter() allows exactly limit takes per sliding window, boundary included", () => {
  const c = clock();
  const rl = createRateLimiter({ limit: 3, windowMs: 1000, now: c.now });
  for (const t of [0, 400, 800]) {
    c.set(t);
    assert.deepEqual(rl.take("a"), { allowed: true, retryAfterMs: 0 }, `t=${t}`);
  }
  c.set(999);
  assert.deepEqual(rl.take("a"), { allowed: false, retryAfterMs: 1 });
  c.set(1000); // the take at 0 has left the window (t - windowMs, t]
  assert.equal(rl.take("a").allowed, true);
  c.set(1001);
  assert.deepEqual(rl.take("a"), { allowed: false, retryAfterMs: 399 });
  c.set(1399);
  assert.equal(rl.take("a").allowed, false);
  c.set(1400);
  assert.equal(rl.take("a").allowed, true);
});

Deno.test("createRateLimiter() retryAfterMs is exact: retrying then is allowed, a moment earlier is not", () => {
  const c = clock(5_000);
  const rl = createRateLimiter({ limit: 2, windowMs: 60_000, now: c.now });
  rl.take("k");
  c.set(5_300);
  rl.take("k");
  c.set(20_000);
  const { allowed, retryAfterMs } = rl.take("k");
  assert.equal(allowed, false);
  assert.equal(retryAfterMs, 45_000);
  c.set(20_000 + retryAfterMs - 1);
  assert.equal(rl.take("k").allowed, false);
  c.set(20_000 + retryAfterMs);
  assert.equal(rl.take("k").allowed, true);
});

Deno.test("createRateLimiter() defaults to 50 per 60 s: 200 attempts from one address in a second admit 50, others unaffected", () => {
  const c = clock();
  const rl = createRateLimiter({ now: c.now });
  let admitted = 0;
  for (let i = 0; i < 200; i++) {
    c.set(i * 5);
    if (rl.take("192.0.2.1").allowed) admitted++;
  }
  assert.equal(admitted, 50);
  assert.equal(rl.take("192.0.2.2").allowed, true);
  c.set(59_999);
  assert.equal(rl.take("192.0.2.1").allowed, false);
  c.set(60_000);
  assert.equal(rl.take("192.0.2.1").allowed, true, "the first attempt left the window");
});

Deno.test("createRateLimiter() does not count refused attempts and reset() restores the budget", () => {
  const c = clock();
  const rl = createRateLimiter({ limit: 1, windowMs: 100, now: c.now });
  assert.equal(rl.take("x").allowed, true);
  for (let t = 1; t < 100; t++) {
    c.set(t);
    assert.equal(rl.take("x").allowed, false);
  }
  c.set(100);
  assert.equal(rl.take("x").allowed, true, "hammering did not extend the window");
  rl.reset("x");
  assert.equal(rl.take("x").allowed, true);
});

Deno.test("createRateLimiter() keeps memory bounded under 1e5 distinct keys", () => {
  const c = clock();
  const rl = createRateLimiter({ limit: 50, windowMs: 60_000, maxKeys: 10_000, now: c.now });
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < 100_000; i++) {
    c.set(i / 100); // all within one window: every key is active
    assert.equal(rl.take(`2001:db8::${i.toString(16)}`).allowed, true);
  }
  assert.equal(rl.size, 10_000);
  assert.equal(rl.evicted, 90_000);
  const grown = Deno.memoryUsage().heapUsed - before;
  assert.ok(grown < 40 * 2 ** 20, `heap grew ${(grown / 2 ** 20).toFixed(1)} MiB`);
  // The most recent keys are still limited.
  c.set(1000);
  const last = "2001:db8::" + (99_999).toString(16);
  for (let i = 0; i < 49; i++) assert.equal(rl.take(last).allowed, true);
  assert.equal(rl.take(last).allowed, false);
});

Deno.test("createRateLimiter() drops idle keys before active ones", () => {
  const c = clock();
  const rl = createRateLimiter({ limit: 1, windowMs: 1000, maxKeys: 100, now: c.now });
  assert.equal(rl.take("attacker").allowed, true);
  for (let i = 0; i < 99; i++) rl.take(`idle-${i}`);
  c.set(500);
  assert.equal(rl.take("attacker").allowed, false); // touched: most recently used
  c.set(1200); // idle-* (taken at 0) are idle for a whole window now; attacker's allowed take is too
  for (let i = 0; i < 50; i++) rl.take(`new-${i}`);
  assert.equal(rl.evicted, 0, "only idle keys were dropped");
  assert.ok(rl.size <= 100);
});

Deno.test("createRateLimiter() refuses invalid options with a ConfigError naming the key", () => {
  for (const [key, value] of [["limit", 0], ["windowMs", -1], ["maxKeys", 1.5]] as const) {
    assert.throws(() => createRateLimiter({ [key]: value }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.key, key);
      assert.equal(e.message, `Option "${key}" must be an integer of at least 1, got "${value}"`);
      return true;
    });
  }
});

Deno.test("createRateLimiter() refuses a key flooding among 10k tracked keys and leaves their budgets alone", () => {
  // How fast this runs is measured in bench/timings.ts (a hot key once cost ~50 µs per take).
  const c = clock();
  const rl = createRateLimiter({ limit: 50, windowMs: 60_000, maxKeys: 20_000, now: c.now });
  for (let i = 0; i < 10_000; i++) rl.take(`k${i}`);
  let allowed = 0;
  for (let i = 0; i < 100_000; i++) if (rl.take("flooder").allowed) allowed++;
  assert.equal(allowed, 50);
  assert.deepEqual(rl.take("flooder"), { allowed: false, retryAfterMs: 60_000 });
  assert.equal(rl.size, 10_001);
  assert.equal(rl.evicted, 0);
  for (const k of ["k0", "k5000", "k9999"]) assert.equal(rl.take(k).allowed, true, k);
});

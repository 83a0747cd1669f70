import assert from "node:assert/strict";
import { createRefusalLog } from "../../src/limits/mod.ts";

Deno.test("createRefusalLog() logs the first refusal per key per window and counts the rest", () => {
  let t = 0;
  const log = createRefusalLog({ windowMs: 1000, now: () => t });
  assert.deepEqual(log.record("a"), { log: true, suppressed: 0 });
  for (let i = 1; i <= 5; i++) {
    t = i * 100;
    assert.deepEqual(log.record("a"), { log: false, suppressed: i });
  }
  assert.deepEqual(log.record("b"), { log: true, suppressed: 0 }, "keys are independent");
  t = 999;
  assert.equal(log.record("a").log, false);
  t = 1000;
  assert.deepEqual(
    log.record("a"),
    { log: true, suppressed: 6 },
    "next window reports what was held back",
  );
  t = 1001;
  assert.deepEqual(log.record("a"), { log: false, suppressed: 1 });
});

Deno.test("createRefusalLog().drain() returns held-back counts once", () => {
  let t = 0;
  const log = createRefusalLog({ windowMs: 1000, now: () => t });
  log.record("a");
  log.record("a");
  log.record("a");
  log.record("b");
  assert.deepEqual(log.drain(), [{ key: "a", suppressed: 2 }]);
  assert.deepEqual(log.drain(), []);
  t = 1000;
  assert.deepEqual(log.record("a"), { log: true, suppressed: 0 });
});

Deno.test("createRefusalLog() keeps memory bounded under 1e5 distinct keys", () => {
  let t = 0;
  const log = createRefusalLog({ windowMs: 60_000, maxKeys: 1000, now: () => t });
  for (let i = 0; i < 100_000; i++) {
    t = i;
    assert.equal(log.record(`k${i}`).log, true);
  }
  assert.ok(log.size <= 1000, `size ${log.size}`);
});

Deno.test("createRefusalLog() logs a key flooding among 10k tracked keys once and counts the rest", () => {
  // How fast this runs is measured in bench/timings.ts.
  let t = 0;
  const log = createRefusalLog({ now: () => t });
  for (let i = 0; i < 10_000; i++) log.record(`k${i}`);
  let logged = 0;
  for (let i = 0; i < 100_000; i++) if (log.record("flooder").log) logged++;
  assert.equal(logged, 1);
  assert.ok(log.size <= 10_000, `size ${log.size}`);
  t = 1;
  assert.deepEqual(log.drain(), [{ key: "flooder", suppressed: 99_999 }]);
});

import assert from "node:assert/strict";
import { LruMap } from "../../src/limits/lru.ts";

Deno.test("LruMap.set() evicts the least recently used key, and get() makes a key recent", () => {
  const m = new LruMap<number>({ max: 3 });
  m.set("a", 1).set("b", 2).set("c", 3);
  assert.equal(m.get("a"), 1); // a is now the most recent: b is the oldest
  m.set("d", 4);
  assert.equal(m.size, 3);
  assert.equal(m.has("b"), false);
  assert.deepEqual([...m.entries()].map(([k]) => k), ["c", "a", "d"]);
  // Setting a present key replaces it and makes it recent, without evicting.
  m.set("c", 30);
  assert.equal(m.size, 3);
  assert.deepEqual([...m.entries()], [["a", 1], ["d", 4], ["c", 30]]);
});

Deno.test("LruMap.peek() and has() read without changing recency", () => {
  const m = new LruMap<string>({ max: 2 });
  m.set("old", "x").set("new", "y");
  assert.equal(m.peek("old"), "x");
  assert.equal(m.has("old"), true);
  m.set("third", "z");
  assert.equal(m.peek("old"), undefined, "old stayed the least recently used and went");
  assert.equal(m.get("new"), "y");
});

Deno.test("LruMap drops an entry read at or after its until time", () => {
  let t = 1_000;
  const m = new LruMap<string>({ max: 10, now: () => t });
  m.set("short", "s", 1_500).set("forever", "f");
  t = 1_499;
  assert.equal(m.get("short"), "s");
  t = 1_500;
  assert.equal(m.size, 2, "an expired entry is dropped when read, not before");
  assert.equal(m.peek("short"), undefined);
  assert.equal(m.size, 1);
  assert.equal(m.get("forever"), "f");
  // A new set() replaces the expiry.
  m.set("forever", "g", 2_000);
  t = 2_000;
  assert.equal(m.has("forever"), false);
  assert.equal(m.size, 0);
});

Deno.test("LruMap keys may be of any type", () => {
  const m = new LruMap<string, object>({ max: 1 });
  const k1 = {};
  const k2 = {};
  m.set(k1, "one");
  m.set(k2, "two");
  assert.equal(m.get(k1), undefined);
  assert.equal(m.get(k2), "two");
});

Deno.test("LruMap refuses a max that is not a positive integer", () => {
  for (const max of [0, -1, 2.5, Number.NaN]) {
    assert.throws(() => new LruMap({ max }), {
      name: "RangeError",
      message: `LruMap "max" must be a positive integer, got "${max}"`,
    });
  }
});

Deno.test("LruMap stays bounded under a flood of distinct keys and keeps the key in use", () => {
  const m = new LruMap<number>({ max: 1_000 });
  m.set("hot", -1);
  for (let i = 0; i < 100_000; i++) {
    m.set(`k${i}`, i);
    m.get("hot");
  }
  assert.equal(m.size, 1_000);
  assert.equal(m.get("hot"), -1);
  assert.equal(m.oldest()?.key, "k99001");
});

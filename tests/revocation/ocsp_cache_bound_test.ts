// The OCSP answer cache is bounded by entries as well as by nextUpdate: a
// server that sees many clients with fresh answers must not grow it without
// limit. Real answers from `openssl ocsp`; a small bound keeps it quick.
import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import { createRevocationChecker, type FetchLike } from "../../src/revocation/mod.ts";
import { makeOpensslCa, startResponder } from "./_openssl.ts";
import { memoryLogger } from "./_log.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const root = await moduleTempDir("rev-ocsp-bound-");

function counting(): FetchLike & { calls: string[] } {
  const calls: string[] = [];
  const f = ((input: string, init?: RequestInit) => {
    calls.push(input);
    return fetch(input, init);
  }) as FetchLike & { calls: string[] };
  f.calls = calls;
  return f;
}

Deno.test("createRevocationChecker() keeps at most ocspCacheSize OCSP answers", async (t) => {
  const ca = await makeOpensslCa(root, "BoundCA");
  const responder = await startResponder(ca, await ca.issueResponder("responder"));
  try {
    await ca.setOcspUrl(responder.url);
    const leaves: Uint8Array[] = [];
    for (let i = 0; i < 20; i++) leaves.push((await ca.issue(`leaf${i}`)).der);
    await responder.sync();

    await t.step(
      "twenty fresh answers with a bound of 8: never more than 8 kept, a recently used one survives",
      async () => {
        const f = counting();
        const c = createRevocationChecker({
          ocsp: true,
          ocspCacheSize: 8,
          fetch: f,
          logger: memoryLogger(),
        });
        const kept = leaves[0];
        assert.equal((await c.check(kept, ca.caDer)).status, "good");
        const sizes: number[] = [];
        for (const leaf of leaves.slice(1)) {
          assert.equal((await c.check(leaf, ca.caDer)).status, "good");
          sizes.push(c.state().ocspCached);
          // Read between inserts, so it is never the least recently used.
          assert.equal(c.checkCached(kept, ca.caDer)?.status, "good");
        }
        assert.equal(Math.max(...sizes), 8, `cache sizes after each answer: ${sizes}`);
        assert.equal(c.state().ocspCached, 8);
        // The least recently used answers went; the newest and the one in use stayed.
        assert.equal(c.checkCached(leaves[1], ca.caDer), undefined);
        assert.equal(c.checkCached(leaves[19], ca.caDer)?.status, "good");
        assert.equal(f.calls.length, 20, "the answer in use was never asked for again");
        // An evicted answer is asked for again, and the bound still holds.
        assert.equal((await c.check(leaves[1], ca.caDer)).status, "good");
        assert.equal(f.calls.length, 21);
        assert.equal(c.state().ocspCached, 8);
        c.close();
      },
    );

    await t.step("an answer past its nextUpdate is dropped from the cache when read", async () => {
      let now = new Date();
      const c = createRevocationChecker({
        ocsp: true,
        fetch: counting(),
        now: () => now,
        logger: memoryLogger(),
      });
      const first = await c.check(leaves[2], ca.caDer);
      await c.check(leaves[3], ca.caDer);
      assert.equal(c.state().ocspCached, 2);
      now = new Date(first.validUntil!.getTime() + 1000);
      assert.equal(c.checkCached(leaves[2], ca.caDer), undefined);
      assert.equal(c.state().ocspCached, 1);
      c.close();
    });
  } finally {
    await responder.stop();
  }
});

Deno.test("createRevocationChecker() refuses an ocspCacheSize that is not a positive integer", () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () => createRevocationChecker({ ocsp: true, ocspCacheSize: bad, logger: memoryLogger() }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.key, "ocspCacheSize");
        assert.equal(
          e.message,
          `Option "ocspCacheSize" must be a positive integer, got "${bad}"`,
        );
        return true;
      },
    );
  }
});

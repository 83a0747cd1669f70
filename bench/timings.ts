/**
 * `deno run -A bench/timings.ts`: the numbers the tests used to assert as
 * "took < X ms" (tests assert behaviour, never speed, see issue #12). Each is
 * a regression that was once real:
 *
 * - a rate limiter / refusal log key flooded among 10k tracked keys: a Map
 *   delete-then-set of one hot key cost ~50 µs per call in V8 (tombstones in
 *   its hash chain); the tests allowed 1 s for 100k calls;
 * - createCrl() with 50,000 entries: @peculiar/x509's generator (quadratic)
 *   took over a minute for 20,000; the test allowed 10 s.
 *
 * Median of 5 runs after a warm-up (3 runs for the CRL); prints one line each.
 */
import { createRateLimiter, createRefusalLog } from "../src/limits/mod.ts";
import { createCrl } from "../src/pki/crl.ts";
import { createRootCa } from "../src/pki/mod.ts";

/** Median ms of `runs` calls of `fn`, after one unmeasured call. */
async function median(runs: number, fn: () => unknown): Promise<number> {
  await fn();
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    await fn();
    ms.push(performance.now() - start);
  }
  return ms.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

const line = (what: string, ms: number, was: string) =>
  console.log(`${what.padEnd(58)} ${ms.toFixed(1).padStart(8)} ms   (${was})`);

line(
  "rate limiter: 100k takes of one key among 10k keys",
  await median(5, () => {
    const rl = createRateLimiter({ limit: 50, windowMs: 60_000, now: () => 0 });
    for (let i = 0; i < 10_000; i++) rl.take(`k${i}`);
    for (let i = 0; i < 100_000; i++) rl.take("flooder");
  }),
  "test allowed 1000 ms",
);

line(
  "refusal log: 100k refusals of one key among 10k keys",
  await median(5, () => {
    const log = createRefusalLog({ now: () => 0 });
    for (let i = 0; i < 10_000; i++) log.record(`k${i}`);
    for (let i = 0; i < 100_000; i++) log.record("flooder");
  }),
  "test allowed 1000 ms",
);

const ca = await createRootCa({ commonName: "Timings CA", keyType: "ec-p256" });
const at = new Date("2026-06-01T00:00:00Z");
const entries = Array.from({ length: 50_000 }, (_, i) => ({
  serialNumber: (0x80000000 + i).toString(16),
  revocationDate: at,
  reason: i % 2 ? "superseded" as const : undefined,
}));
line(
  "createCrl(): 50,000 entries, ec-p256 CA",
  await median(3, () => createCrl(ca, entries, { crlNumber: 2n })),
  "test allowed 10000 ms",
);

/**
 * `deno run -A bench/pins.ts`: the per-connection cost of pin checks (what
 * runs inside `checkServerIdentity`) and of the limiters (what runs at
 * accept). Median of 5 runs after a warm-up; nanoseconds per call. The
 * "for comparison" rows are why computePins walks the DER itself.
 */
import "reflect-metadata";
import { X509Certificate as PeculiarCertificate, X509CertificateGenerator } from "@peculiar/x509";
import { X509Certificate as NodeCertificate } from "node:crypto";
import { compilePinSet, computePins, PinStore } from "../src/pins/mod.ts";
import {
  createConcurrencyLimiter,
  createRateLimiter,
  createRefusalLog,
} from "../src/limits/mod.ts";

const ALGS: Record<string, { gen: Algorithm; sign: Algorithm }> = {
  "ec-p256": {
    gen: { name: "ECDSA", namedCurve: "P-256" } as EcKeyGenParams,
    sign: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams,
  },
  "rsa-2048": {
    gen: {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    } as RsaHashedKeyGenParams,
    sign: { name: "RSASSA-PKCS1-v1_5" },
  },
  "ed25519": { gen: { name: "Ed25519" }, sign: { name: "Ed25519" } },
};

async function selfSigned(type: string): Promise<Uint8Array<ArrayBuffer>> {
  const { gen, sign } = ALGS[type];
  const keys = await crypto.subtle.generateKey(gen, false, ["sign", "verify"]) as CryptoKeyPair;
  const cert = await X509CertificateGenerator.createSelfSigned({
    name: `CN=${type}`,
    keys,
    signingAlgorithm: { ...gen, ...sign },
  });
  return new Uint8Array(cert.rawData);
}

/** Median ns per call of `fn` over 5 runs of `n` calls. */
function measure(n: number, fn: (i: number) => unknown): number {
  for (let i = 0; i < Math.min(n, 2_000); i++) fn(i);
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) fn(i);
    runs.push((performance.now() - start) * 1e6 / n);
  }
  return runs.sort((a, b) => a - b)[2];
}

const rows: [string, string, number][] = [];
const row = (what: string, detail: string, ns: number) => {
  rows.push([what, detail, ns]);
};

for (const type of Object.keys(ALGS)) {
  const der = await selfSigned(type);
  const other = await selfSigned(type);
  const pins = computePins(der);
  const matcher = compilePinSet([pins.spki]);
  const both = compilePinSet([pins.spki], [pins.cert]);
  const store = PinStore.memory({ "server:8443": [pins.spki] });
  row("computePins(der)", `${type}, ${der.length} B DER`, measure(20_000, () => computePins(der)));
  row("pin matcher, SPKI pin, match", type, measure(20_000, () => matcher(der)));
  row("pin matcher, SPKI pin, mismatch", type, measure(20_000, () => matcher(other)));
  row("pin matcher, SPKI + cert pins", type, measure(20_000, () => both(der)));
  row("PinStore.check(name, der)", type, measure(20_000, () => store.check("server:8443", der)));
  row(
    "for comparison: node:crypto X509Certificate SPKI",
    type,
    measure(
      20_000,
      () => new NodeCertificate(der).publicKey.export({ type: "spki", format: "der" }),
    ),
  );
  row(
    "for comparison: @peculiar/x509 parse",
    type,
    measure(200, () => new PeculiarCertificate(der).publicKey.rawData),
  );
}

const now = () => performance.now();
const rl = createRateLimiter({ now });
row(
  "rateLimiter.take(), one key (mostly refused)",
  "50/60 s",
  measure(1_000_000, () => rl.take("192.0.2.1")),
);
const addresses = Array.from({ length: 200_000 }, (_, i) => `2001:db8::${i.toString(16)}`);
const flood = createRateLimiter({ now, maxKeys: 10_000 });
row(
  "rateLimiter.take(), distinct keys (flood, evicting)",
  "maxKeys 10k",
  measure(200_000, (i) => flood.take(addresses[i])),
);
const steady = createRateLimiter({ now, limit: 1_000_000 });
row(
  "rateLimiter.take(), 1k keys round robin (allowed)",
  "sliding log",
  measure(1_000_000, (i) => steady.take(addresses[i % 1000])),
);
const cl = createConcurrencyLimiter();
row(
  "concurrency acquire() + release()",
  "1024 / 32",
  measure(1_000_000, () => cl.acquire("192.0.2.1")?.()),
);
const rlog = createRefusalLog({ now });
row("refusalLog.record(), one key", "60 s", measure(1_000_000, () => rlog.record("192.0.2.1")));

const w = Math.max(...rows.map((r) => r[0].length));
const d = Math.max(...rows.map((r) => r[1].length));
console.log(`${"operation".padEnd(w)}  ${"case".padEnd(d)}  ns/call`);
console.log(`${"-".repeat(w)}  ${"-".repeat(d)}  -------`);
for (const [what, detail, ns] of rows) {
  console.log(`${what.padEnd(w)}  ${detail.padEnd(d)}  ${ns.toFixed(0).padStart(7)}`);
}

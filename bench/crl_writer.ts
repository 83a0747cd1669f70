/**
 * Why `src/pki/crl.ts` writes CRL DER by hand: signing a CRL of N entries
 * with our writer against `@peculiar/x509`'s `X509CrlGenerator`, at growing
 * N. Ours grows linearly; the library's grows quadratically, so a large CA's
 * CRL (tens of thousands of revocations) takes it minutes.
 *
 * Usage: deno run -A bench/crl_writer.ts   (about 40 s; the library is
 * stopped at 8,000 entries)
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createCrl, createRootCa } from "../src/pki/mod.ts";

const ca = await createRootCa({ commonName: "Bench CRL CA", keyType: "ec-p256" });
const caDer = ca.certificate.der;
const peculiarCa = new x509.X509Certificate(caDer.slice());
const now = new Date();
const entries = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    serialNumber: (0x100000 + i).toString(16),
    revocationDate: now,
    reason: "keyCompromise" as const,
  }));

async function ours(n: number): Promise<number> {
  const list = entries(n);
  const t0 = performance.now();
  await createCrl(ca, list, { crlNumber: 1 });
  return performance.now() - t0;
}

async function library(n: number): Promise<number> {
  const list = entries(n);
  const t0 = performance.now();
  await x509.X509CrlGenerator.create({
    issuer: peculiarCa.subject,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + 86_400_000),
    entries: list.map((e) => ({
      serialNumber: e.serialNumber,
      revocationDate: e.revocationDate,
      reason: x509.X509CrlReason.keyCompromise,
    })),
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    signingKey: ca.privateKey,
  });
  return performance.now() - t0;
}

await ours(100); // warm the JIT
await library(100);
console.log("Signing a CRL of N entries (EC P-256 CA), ms\n");
console.log("| entries | ours | @peculiar/x509 X509CrlGenerator | library / ours |");
console.log("| ---: | ---: | ---: | ---: |");
for (const n of [1_000, 2_000, 4_000, 8_000, 20_000]) {
  const a = await ours(n);
  const b = n <= 8_000 ? await library(n) : undefined;
  console.log(
    `| ${n.toLocaleString("en")} | ${a.toFixed(0)} | ${
      b === undefined ? "(not run)" : b.toFixed(0)
    } | ${b === undefined ? "" : `${(b / a).toFixed(0)}x`} |`,
  );
}

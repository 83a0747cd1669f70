/**
 * Why the certificate model is built on our own DER reader: the cost of
 * reading one client certificate with each ASN.1 library we depend on,
 * against `readCertificate` (every certificate distinct, so nothing is
 * remembered), and the cost of checking its signature three ways.
 *
 * Usage: deno run -A bench/cert_parse.ts   (about 15 s)
 */
import "reflect-metadata";
import { Buffer } from "node:buffer";
import { createPublicKey, verify, X509Certificate as NodeX509 } from "node:crypto";
import { AsnConvert } from "npm:@peculiar/asn1-schema@2.11.1";
import { Certificate as AsnCertificate } from "npm:@peculiar/asn1-x509@2.11.1";
import { X509Certificate as PeculiarX509 } from "@peculiar/x509";
import * as pkijs from "pkijs";
import { readCertificate } from "../src/cert/certificate.ts";
import { signedBy } from "../src/cert/verify_signature.ts";
import { createRootCa, issueCertificate } from "../src/pki/mod.ts";

const N = 300;
const ca = await createRootCa({ commonName: "Bench CA" });
const leaves: Uint8Array<ArrayBuffer>[] = [];
for (let i = 0; i < N; i++) {
  const b = await issueCertificate(ca, "client", {
    commonName: `agent-${i}`,
    subjectAltNames: `dns:a${i}.example,uri:spiffe://bench/agent-${i}`,
  });
  leaves.push(b.certificate.der.slice());
}
const caDer = ca.certificate.der.slice();

function time(f: (der: Uint8Array<ArrayBuffer>) => unknown): number {
  for (const d of leaves.slice(0, 50)) f(d.slice()); // warm the JIT on copies
  const copies = leaves.map((d) => d.slice()); // distinct buffers: no identity cache hits
  const t0 = performance.now();
  for (const d of copies) f(d);
  return ((performance.now() - t0) * 1000) / N;
}

const ours = time((d) => readCertificate(d));
const rows: [string, number][] = [
  ["readCertificate (ours, first read of each DER)", ours],
  ["readCertificate (ours, DER seen before)", time((d) => readCertificate(d))],
  ["node:crypto X509Certificate (native; fields read lazily)", time((d) => new NodeX509(d))],
  [
    "@peculiar/asn1-schema AsnConvert.parse(Certificate)",
    time((d) => AsnConvert.parse(d, AsnCertificate)),
  ],
  ["@peculiar/x509 X509Certificate", time((d) => new PeculiarX509(d))],
  ["pkijs Certificate.fromBER", time((d) => pkijs.Certificate.fromBER(d))],
]; // deno-fmt-ignore

const caNode = new NodeX509(caDer);
const caModel = readCertificate(caDer);
const caKey = createPublicKey({
  key: Buffer.from(caModel.publicKey.spki),
  format: "der",
  type: "spki",
});
const sigRows: [string, number][] = [
  [
    "signedBy (ours: crypto.verify over the tbs)",
    time((d) => signedBy(readCertificate(d), caModel.publicKey)),
  ],
  [
    "crypto.verify alone",
    time((d) => {
      const c = readCertificate(d);
      return verify("sha256", c.tbs, caKey, c.signature);
    }),
  ],
  ["node:crypto X509Certificate#verify", time((d) => new NodeX509(d).verify(caNode.publicKey))],
]; // deno-fmt-ignore

console.log(`Reading one client certificate (P-256, 2 SANs), µs per certificate, ${N} certificates\n`);
console.log("| reader | µs | vs ours |");
console.log("| --- | ---: | ---: |");
for (const [name, us] of rows) {
  console.log(`| ${name} | ${us.toFixed(1)} | ${(us / ours).toFixed(1)}x |`);
}
console.log(`\nChecking its signature (the CA's P-256 key), µs per certificate\n`);
console.log("| check | µs |");
console.log("| --- | ---: |");
for (const [name, us] of sigRows) console.log(`| ${name} | ${us.toFixed(1)} |`);

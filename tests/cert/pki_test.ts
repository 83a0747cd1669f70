/**
 * What the PKI's move onto the certificate model needed from the model: a
 * malformed key usage extension is refused when the certificate is read
 * (before, `inspectCertificate` met it lazily, as a raw ASN.1 error).
 */
import assert from "node:assert/strict";
import { readCertificate } from "../../src/cert/mod.ts";
import { CertificateError } from "../../src/errors.ts";
import { createRootCa } from "../../src/pki/mod.ts";

/** `der` with the unused-bits octet of its keyUsage BIT STRING set to `unused`. */
function withKeyUsageUnusedBits(der: Uint8Array, unused: number): Uint8Array {
  const out = der.slice();
  // id-ce-keyUsage (2.5.29.15), then [critical BOOLEAN], OCTET STRING { BIT STRING { unused, bits } }
  const oid = [0x06, 0x03, 0x55, 0x1d, 0x0f];
  const at = out.findIndex((_, i) => oid.every((b, k) => out[i + k] === b));
  assert.ok(at > 0, "sample has no key usage extension");
  let p = at + oid.length;
  if (out[p] === 0x01) p += 3; // critical flag
  assert.equal(out[p], 0x04);
  assert.equal(out[p + 2], 0x03);
  out[p + 4] = unused;
  return out;
}

Deno.test("readCertificate() refuses a key usage BIT STRING with more than 7 unused bits as invalid_der", async () => {
  const ca = await createRootCa({ commonName: "Bits CA" });
  // The same certificate with a valid count (its own, 1) reads; 8 and 9 do not (X.690 §8.6.2.2).
  const own = withKeyUsageUnusedBits(ca.certificate.der, 1);
  assert.deepEqual([...readCertificate(own).keyUsage!].sort(), [0, 5, 6]);
  for (const unused of [8, 9, 0xff]) {
    const bad = withKeyUsageUnusedBits(ca.certificate.der, unused);
    assert.throws(
      () => readCertificate(bad),
      (e: unknown) =>
        e instanceof CertificateError && e.code === "invalid_der" &&
        e.message ===
          `Cannot read certificate DER: keyUsage BIT STRING claims ${unused} unused bits`,
    );
  }
});

import assert from "node:assert/strict";
import {
  certificateFingerprint,
  createRootCa,
  issueCertificate,
  spkiPin,
} from "../../src/pki/mod.ts";
import { opensslBytes, opensslOk, opensslPin, withTempDir } from "./_openssl.ts";

Deno.test("spkiPin() equals the openssl pubkey | pkey | dgst | base64 pipeline for every fast key type", async () => {
  await withTempDir(async (dir) => {
    const ca = await createRootCa({ keyType: "ed25519" });
    for (const keyType of ["ec-p256", "ec-p384", "ed25519", "rsa-2048"] as const) {
      const leaf = await issueCertificate(ca, "server", { keyType });
      await Deno.writeTextFile(`${dir}/${keyType}.crt`, leaf.certificatePem);
      const expected = await opensslPin(`${dir}/${keyType}.crt`);
      assert.equal(await spkiPin(leaf.certificate), expected, keyType);
      assert.equal(await spkiPin(leaf.certificatePem), expected);
      assert.match(expected, /^[A-Za-z0-9+/]{43}=$/);
    }
  });
});

Deno.test("spkiPin() is the same for PEM text, DER bytes and a parsed certificate", async () => {
  const ca = await createRootCa();
  const der = await opensslBytes(["x509", "-outform", "der"], ca.certificatePem);
  const pin = await spkiPin(ca.certificate);
  assert.equal(await spkiPin(der), pin);
  assert.equal(await spkiPin(new TextEncoder().encode(ca.certificatePem)), pin);
});

Deno.test("certificateFingerprint() equals openssl x509 -fingerprint -sha256 without colons, lowercase", async () => {
  const ca = await createRootCa();
  const out = await opensslOk(["x509", "-noout", "-fingerprint", "-sha256"], ca.certificatePem);
  const expected = out.trim().split("=")[1].replaceAll(":", "").toLowerCase();
  const ours = await certificateFingerprint(ca.certificate);
  assert.equal(ours, expected);
  assert.match(ours, /^[0-9a-f]{64}$/);
});

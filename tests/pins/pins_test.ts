import assert from "node:assert/strict";
import {
  compilePinSet,
  computePins,
  normalizePin,
  parsePin,
  pinMismatchError,
} from "../../src/pins/mod.ts";
import { CertificateError, PeerRejectedError } from "../../src/errors.ts";
import { type FixtureCert, type FixtureKey, KEY_TYPES, makeCert } from "./fixtures.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const dir = await moduleTempDir("pins_test_");
const certs = {} as Record<FixtureKey, FixtureCert>;
for (const t of Object.keys(KEY_TYPES) as FixtureKey[]) certs[t] = await makeCert(dir, t, t);
const other = await makeCert(dir, "other", "ec-p256");

for (const t of Object.keys(KEY_TYPES) as FixtureKey[]) {
  Deno.test(`computePins() equals the openssl pipeline for a ${t} certificate`, () => {
    const pins = computePins(certs[t].der);
    assert.equal(pins.spki, `sha256/${certs[t].opensslSpkiPin}`);
    assert.equal(
      pins.cert,
      `cert-sha256/${certs[t].opensslFingerprint.replaceAll(":", "").toLowerCase()}`,
    );
  });
}

Deno.test("computePins() reports malformed DER as invalid_der", () => {
  const der = certs["ec-p256"].der;
  for (
    const bad of [
      new Uint8Array(),
      der.subarray(0, 50),
      Uint8Array.of(...der, 0),
      Uint8Array.of(0x31, ...der.subarray(1)),
    ]
  ) {
    assert.throws(
      () => computePins(bad),
      (e: unknown) => e instanceof CertificateError && e.code === "invalid_der",
    );
  }
});

Deno.test("parsePin() accepts every documented form and normalises it", () => {
  const spki = certs["ec-p256"].opensslSpkiPin;
  const hex = certs["ec-p256"].opensslFingerprint;
  assert.equal(normalizePin(spki), `sha256/${spki}`);
  assert.equal(normalizePin(` sha256/${spki}\n`), `sha256/${spki}`);
  const canonicalCert = `cert-sha256/${hex.replaceAll(":", "").toLowerCase()}`;
  for (
    const form of [
      hex,
      hex.toLowerCase(),
      hex.replaceAll(":", ""),
      `cert-sha256/${hex}`,
      canonicalCert,
    ]
  ) {
    assert.equal(normalizePin(form), canonicalCert, form);
  }
  assert.equal(parsePin(spki).kind, "spki");
  assert.equal(parsePin(hex).digest.length, 32);
});

Deno.test("parsePin() refuses malformed pins with a message naming the value", () => {
  const spki = certs["ec-p256"].opensslSpkiPin;
  for (
    const bad of [
      "",
      "sha256/",
      "sha256/abc",
      `sha1/${spki}`,
      `cert-sha256/${spki}`,
      `sha256/${"ab".repeat(32)}`,
      "zz".repeat(32),
      spki.slice(1),
    ]
  ) {
    assert.throws(() => parsePin(bad), (e: unknown) => {
      assert.ok(e instanceof CertificateError);
      assert.equal(e.code, "invalid_argument");
      assert.ok(
        e.message.startsWith(`Invalid pin "${bad}": expected "sha256/<base64 SPKI SHA-256>"`),
        e.message,
      );
      return true;
    });
  }
});

Deno.test("compilePinSet() admits the right SPKI pin and refuses a certificate with another key", () => {
  const matches = compilePinSet([certs["rsa-2048"].opensslSpkiPin]);
  assert.equal(matches(certs["rsa-2048"].der), true);
  assert.equal(matches(certs["ed25519"].der), false);
  assert.equal(matches(other.der), false);
});

Deno.test("compilePinSet() admits a backup pin and a certificate pin", () => {
  const matches = compilePinSet([`sha256/${certs["ec-p256"].opensslSpkiPin}`], [
    certs["ed25519"].opensslSpkiPin,
  ]);
  assert.equal(matches(certs["ec-p256"].der), true);
  assert.equal(matches(certs["ed25519"].der), true, "backup pin admits");
  assert.equal(matches(certs["rsa-2048"].der), false);
  const byCert = compilePinSet([certs["rsa-2048"].opensslFingerprint]);
  assert.equal(byCert(certs["rsa-2048"].der), true);
  assert.equal(byCert(other.der), false);
});

Deno.test("compilePinSet() matcher refuses malformed DER without throwing, and refuses an empty set", () => {
  const matches = compilePinSet([
    certs["ec-p256"].opensslSpkiPin,
    certs["ec-p256"].opensslFingerprint,
  ]);
  assert.equal(matches(new Uint8Array([1, 2, 3])), false);
  assert.throws(() => compilePinSet([]), { code: "invalid_argument" });
  assert.throws(() => compilePinSet(["nope"]), { code: "invalid_argument" });
});

Deno.test("pinMismatchError() shows the presented and the expected pins", () => {
  const expected = [`sha256/${certs["ec-p256"].opensslSpkiPin}`];
  const e = pinMismatchError("localhost:8443", other.der, expected, "127.0.0.1:8443");
  assert.ok(e instanceof PeerRejectedError);
  assert.equal(e.code, "pin_mismatch");
  assert.equal(e.peer, "127.0.0.1:8443");
  assert.equal(
    e.message,
    `Pin mismatch for "localhost:8443": presented sha256/${other.opensslSpkiPin} (certificate ${
      computePins(other.der).cert
    }), expected ${expected[0]}`,
  );
});

/**
 * The client's certificate material: PEM text or DER bytes read into PEM,
 * certificates read into the model, the key checked against the
 * certificate, once. PEM goes through the one codec (`../../cert/pem.ts`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { type Certificate, readCertificate } from "../../cert/certificate.ts";
import { asText, decodePem, encodePem, looksLikePem } from "../../cert/pem.ts";
import { CertificateError, ConfigError } from "../../errors.ts";
import type { MtlsClientOptions, PemInput } from "./options.ts";

/** `cert` and `key` as PEM, checked to belong together; nothing when neither is given. */
export function resolveIdentity(
  options: MtlsClientOptions,
): { cert?: string; key?: string; certificate?: Certificate } {
  if (options.cert === undefined && options.key === undefined) return {};
  if (options.key === undefined) {
    throw new ConfigError('Option "key" is required when "cert" is given', { key: "key" });
  }
  if (options.cert === undefined) {
    throw new ConfigError('Option "cert" is required when "key" is given', { key: "cert" });
  }
  const cert = toPem(options.cert, "cert", "CERTIFICATE");
  const blocks = certificateBlocks(cert, "cert");
  if (blocks.length === 0) {
    throw new CertificateError("invalid_pem", 'Option "cert" holds no PEM "CERTIFICATE" block');
  }
  const certificate = readBlock(blocks[0], "cert");
  const key = toPem(options.key, "key", "PRIVATE KEY");
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch (cause) {
    throw new CertificateError(
      "invalid_key",
      'Option "key" is not a readable private key (PEM "PRIVATE KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY")',
      { cause },
    );
  }
  if (!keyBelongsTo(keyObject, certificate)) {
    throw new CertificateError(
      "key_mismatch",
      `Option "key" does not belong to the certificate in "cert" ("${certificate.subject.text}")`,
    );
  }
  return { cert, key, certificate };
}

/** Every certificate of `ca` as one PEM block each, and read (the client's chain rules read them). */
export function resolveCa(
  ca: PemInput | PemInput[],
): { pems: string[]; certificates: Certificate[] } {
  const inputs = Array.isArray(ca) ? ca : [ca];
  const out: string[] = [];
  const certificates: Certificate[] = [];
  for (const input of inputs) {
    const blocks = certificateBlocks(toPem(input, "ca", "CERTIFICATE"), "ca");
    if (blocks.length === 0) {
      throw new CertificateError("invalid_pem", 'Option "ca" holds no PEM "CERTIFICATE" block');
    }
    for (const [i, der] of blocks.entries()) {
      certificates.push(readBlock(der, "ca", i + 1));
      out.push(encodePem(der, "CERTIFICATE"));
    }
  }
  if (out.length === 0) {
    throw new ConfigError('Option "ca" is an empty list', { key: "ca" });
  }
  return { pems: out, certificates };
}

/**
 * Whether `key` is the private half of `cert`'s key: both public keys as
 * node:crypto re-encodes them, so an EC point or RSA key written another
 * valid way still compares equal.
 */
function keyBelongsTo(key: KeyObject, cert: Certificate): boolean {
  try {
    const fromCert = createPublicKey({
      key: Buffer.from(cert.publicKey.spki),
      format: "der",
      type: "spki",
    });
    const spki = (k: KeyObject) => k.export({ type: "spki", format: "der" });
    return spki(createPublicKey(key)).equals(spki(fromCert));
  } catch {
    return false; // a certificate key node:crypto cannot read matches no key
  }
}

function readBlock(der: Uint8Array, option: string, index = 1): Certificate {
  try {
    return readCertificate(der);
  } catch (cause) {
    throw new CertificateError(
      "invalid_pem",
      `Option "${option}" holds a certificate that cannot be read (PEM block ${index})`,
      { cause },
    );
  }
}

/** PEM text from a string or bytes; DER bytes are wrapped under `label`. */
function toPem(value: PemInput, option: string, label: string): string {
  if (typeof value === "string") {
    if (!looksLikePem(value)) {
      throw new CertificateError(
        "invalid_pem",
        `Option "${option}" is not PEM text (no "-----BEGIN" line); pass the file's contents, not its path`,
      );
    }
    return value;
  }
  if (!(value instanceof Uint8Array)) {
    throw new ConfigError(`Option "${option}" must be a PEM string or a Uint8Array`, {
      key: option,
    });
  }
  if (looksLikePem(value)) return asText(value);
  if (value[0] === 0x30) return encodePem(value, label);
  throw new CertificateError(
    "invalid_pem",
    `Option "${option}" holds neither PEM text nor DER bytes`,
  );
}

/** The DER of every CERTIFICATE block of `text`; malformed PEM is refused, naming the option. */
function certificateBlocks(text: string, option: string): Uint8Array[] {
  return decodePem(text, `option "${option}"`)
    .filter((b) => b.type === "CERTIFICATE")
    .map((b) => b.der);
}

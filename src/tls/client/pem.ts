/**
 * The client's certificate material: PEM text or DER bytes read into PEM,
 * certificates parsed, the key checked against the certificate, once.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { CertificateError, ConfigError } from "../../errors.ts";
import type { MtlsClientOptions, PemInput } from "./options.ts";

/** `cert` and `key` as PEM, checked to belong together; nothing when neither is given. */
export function resolveIdentity(
  options: MtlsClientOptions,
): { cert?: string; key?: string; certificate?: X509Certificate } {
  if (options.cert === undefined && options.key === undefined) return {};
  if (options.key === undefined) {
    throw new ConfigError('Option "key" is required when "cert" is given', { key: "key" });
  }
  if (options.cert === undefined) {
    throw new ConfigError('Option "cert" is required when "key" is given', { key: "cert" });
  }
  const cert = toPem(options.cert, "cert", "CERTIFICATE");
  const blocks = pemBlocks(cert, "CERTIFICATE");
  if (blocks.length === 0) {
    throw new CertificateError("invalid_pem", 'Option "cert" holds no PEM "CERTIFICATE" block');
  }
  const certificate = parseCertificate(blocks[0], "cert");
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
  if (!certificate.checkPrivateKey(keyObject)) {
    throw new CertificateError(
      "key_mismatch",
      `Option "key" does not belong to the certificate in "cert" ("${certificate.subject}")`,
    );
  }
  return { cert, key, certificate };
}

/** Every certificate of `ca` as one PEM block each, and parsed (the client's chain rules read them). */
export function resolveCa(
  ca: PemInput | PemInput[],
): { pems: string[]; certificates: X509Certificate[] } {
  const inputs = Array.isArray(ca) ? ca : [ca];
  const out: string[] = [];
  const certificates: X509Certificate[] = [];
  for (const input of inputs) {
    const blocks = pemBlocks(toPem(input, "ca", "CERTIFICATE"), "CERTIFICATE");
    if (blocks.length === 0) {
      throw new CertificateError("invalid_pem", 'Option "ca" holds no PEM "CERTIFICATE" block');
    }
    for (const [i, block] of blocks.entries()) {
      certificates.push(parseCertificate(block, "ca", i + 1));
      out.push(block);
    }
  }
  if (out.length === 0) {
    throw new ConfigError('Option "ca" is an empty list', { key: "ca" });
  }
  return { pems: out, certificates };
}

function parseCertificate(pem: string, option: string, index = 1): X509Certificate {
  try {
    return new X509Certificate(pem);
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
    if (!value.includes("-----BEGIN ")) {
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
  const text = new TextDecoder().decode(value.subarray(0, 64));
  if (text.includes("-----BEGIN ")) return new TextDecoder().decode(value);
  if (value[0] === 0x30) {
    const b64 = Buffer.from(value).toString("base64").replace(/(.{64})/g, "$1\n");
    return `-----BEGIN ${label}-----\n${b64.trimEnd()}\n-----END ${label}-----\n`;
  }
  throw new CertificateError(
    "invalid_pem",
    `Option "${option}" holds neither PEM text nor DER bytes`,
  );
}

function pemBlocks(text: string, label: string): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, "g");
  return [...text.matchAll(re)].map((m) => m[0] + "\n");
}

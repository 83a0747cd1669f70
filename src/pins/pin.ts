/**
 * Pin strings: parsing, validation and the canonical form.
 *
 * Two kinds of pin, both SHA-256:
 *
 * | kind | canonical form | also accepted |
 * | --- | --- | --- |
 * | SPKI (public key) | `sha256/<base64>` (as curl's `--pinnedpubkey`, HPKP) | bare `<base64>` (what `certs pin` and the openssl pipeline print) |
 * | certificate | `cert-sha256/<hex>` (64 lowercase hex digits) | hex with or without colons, any case, with or without the `cert-sha256/` prefix (what `openssl x509 -fingerprint -sha256` prints after `=`) |
 *
 * An SPKI pin survives renewal with the same key; a certificate pin does not.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { CertificateError } from "../errors.ts";

/**
 * A parsed pin.
 *
 * @example
 * ```ts
 * import { parsePin } from "@mtls/mcp/pins";
 * const pin = parsePin("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
 * console.log(pin.kind, pin.digest.length); // "spki" 32
 * ```
 */
export interface Pin {
  /** `spki` pins the public key, `cert` the whole certificate. */
  kind: "spki" | "cert";
  /** The 32-byte SHA-256 digest. */
  digest: Uint8Array;
  /** The canonical string: `sha256/<base64>` or `cert-sha256/<hex>`. */
  text: string;
}

const SPKI_PREFIX = "sha256/";
const CERT_PREFIX = "cert-sha256/";
const BASE64_32 = /^[A-Za-z0-9+/]{43}=$/;
const HEX_32 = /^[0-9a-fA-F]{64}$/;
const HEX_32_COLONS = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){31}$/;

/**
 * Parses and validates a pin string (see the module doc for the formats).
 *
 * @param text the pin as written by a user or a file
 * @returns the pin with its canonical text
 * @throws {CertificateError} `invalid_argument` naming the value and the accepted forms
 *
 * @example Normalising a certificate fingerprint copied from openssl
 * ```ts
 * import { parsePin } from "@mtls/mcp/pins";
 * const pin = parsePin("AB:CD:" + "00:".repeat(29) + "EF");
 * console.log(pin.text); // "cert-sha256/abcd000000...00ef"
 * ```
 */
export function parsePin(text: string): Pin {
  if (typeof text !== "string") {
    throw new CertificateError("invalid_argument", `Invalid pin "${String(text)}": not a string`);
  }
  const trimmed = text.trim();
  let body = trimmed;
  let kind: Pin["kind"] | undefined;
  if (trimmed.startsWith(SPKI_PREFIX)) [kind, body] = ["spki", trimmed.slice(SPKI_PREFIX.length)];
  else if (trimmed.startsWith(CERT_PREFIX)) {
    [kind, body] = ["cert", trimmed.slice(CERT_PREFIX.length)];
  }
  if (kind !== "cert" && BASE64_32.test(body)) {
    const digest = new Uint8Array(Buffer.from(body, "base64"));
    return { kind: "spki", digest, text: SPKI_PREFIX + body };
  }
  if (kind !== "spki" && (HEX_32.test(body) || HEX_32_COLONS.test(body))) {
    const hex = body.replaceAll(":", "").toLowerCase();
    return {
      kind: "cert",
      digest: new Uint8Array(Buffer.from(hex, "hex")),
      text: CERT_PREFIX + hex,
    };
  }
  throw new CertificateError(
    "invalid_argument",
    `Invalid pin "${text}": expected "sha256/<base64 SPKI SHA-256>" (44 characters after the slash) ` +
      `or "cert-sha256/<certificate SHA-256 in hex>" (64 hex digits, colons allowed)`,
  );
}

/**
 * The canonical form of a pin string; throws like {@link parsePin} when invalid.
 *
 * @param text a pin in any accepted form
 * @returns `sha256/<base64>` or `cert-sha256/<hex>`
 *
 * @example
 * ```ts
 * import { normalizePin } from "@mtls/mcp/pins";
 * normalizePin("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
 * // "sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
 * ```
 */
export function normalizePin(text: string): string {
  return parsePin(text).text;
}

/**
 * Computing pins from a certificate's DER, synchronously, so it can run inside
 * a TLS `checkServerIdentity` callback. The certificate is read through the
 * model (`readCertificate`, remembered per DER), whose `spkiPin` and
 * `certPin` are the pins.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { readCertificate } from "../cert/certificate.ts";

/**
 * The two pins of a certificate, in canonical form.
 *
 * @example
 * ```ts
 * import type { CertificatePins } from "@mtls/mcp/pins";
 * const p: CertificatePins = { spki: "sha256/...", cert: "cert-sha256/..." };
 * ```
 */
export interface CertificatePins {
  /** `sha256/<base64>`: SHA-256 of the DER SubjectPublicKeyInfo (same as the openssl pipeline). */
  spki: string;
  /** `cert-sha256/<hex>`: SHA-256 of the whole certificate DER. */
  cert: string;
}

/**
 * Computes the SPKI and certificate pins of a DER certificate (for example
 * `getPeerCertificate().raw` in `node:tls`). Synchronous; the certificate is
 * parsed once per distinct DER (the model remembers it).
 *
 * @param der the certificate, DER-encoded
 * @returns both pins in canonical form
 * @throws {CertificateError} `invalid_der` when `der` is not an X.509 certificate
 *
 * @example Printing a certificate's pin
 * ```ts ignore
 * import { computePins } from "@mtls/mcp/pins";
 * const pem = Deno.readTextFileSync("certs/server.crt");
 * const der = Uint8Array.from(atob(pem.replace(/-----[^-]+-----|\s/g, "")), (c) => c.charCodeAt(0));
 * console.log(computePins(der).spki); // sha256/...
 * ```
 */
export function computePins(der: Uint8Array): CertificatePins {
  const cert = readCertificate(der);
  return { spki: cert.spkiPin, cert: cert.certPin };
}

/**
 * SHA-256 of the certificate's SubjectPublicKeyInfo: the bytes of its SPKI
 * pin, for constant-time comparison.
 *
 * @throws {CertificateError} `invalid_der` when `der` is not an X.509 certificate
 *
 * @example
 * ```ts ignore
 * timingSafeEqual(spkiDigest(peer.raw), expected);
 * ```
 */
export function spkiDigest(der: Uint8Array): Buffer {
  return Buffer.from(readCertificate(der).spkiPin.slice("sha256/".length), "base64");
}

/**
 * SHA-256 of the whole certificate: the bytes of its certificate pin.
 *
 * @throws {CertificateError} `invalid_der` when `der` is not an X.509 certificate
 *
 * @example
 * ```ts ignore
 * timingSafeEqual(certDigest(peer.raw), expected);
 * ```
 */
export function certDigest(der: Uint8Array): Buffer {
  return Buffer.from(readCertificate(der).fingerprint, "hex");
}

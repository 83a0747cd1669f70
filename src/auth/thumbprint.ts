/**
 * The certificate thumbprint of RFC 8705 §3.1: `cnf["x5t#S256"]` is the
 * base64url (no padding) SHA-256 of the client certificate's DER, the same
 * digest as the hex `fingerprint` our certificate model and
 * `PeerIdentity` carry. Compared in constant time.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { timingSafeEqual } from "node:crypto";

/**
 * The `x5t#S256` value of a certificate from its hex SHA-256 fingerprint
 * (`PeerIdentity.fingerprint`; colons and case ignored).
 *
 * @example Thumbprint of a peer's certificate
 * ```ts
 * import { thumbprintOfFingerprint } from "@mtls/mcp/auth";
 * thumbprintOfFingerprint("00".repeat(32)); // "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
 * ```
 */
export function thumbprintOfFingerprint(fingerprint: string): string {
  const hex = fingerprint.replaceAll(":", "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new TypeError(`Fingerprint "${fingerprint}" is not a SHA-256 (64 hex digits)`);
  }
  return Buffer.from(hex, "hex").toString("base64url");
}

/**
 * The `x5t#S256` value of a certificate from its DER bytes.
 *
 * @example Thumbprint of our own certificate, as a client would compare it
 * ```ts
 * import { certificateThumbprint } from "@mtls/mcp/auth";
 * const t = await certificateThumbprint(new Uint8Array([0x30, 0x00]));
 * console.log(t.length); // 43
 * ```
 */
export async function certificateThumbprint(der: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", der as Uint8Array<ArrayBuffer>);
  return Buffer.from(digest).toString("base64url");
}

/**
 * Whether two thumbprints are equal, in time independent of where they
 * differ (the expected one is the peer's; the token's is attacker-chosen).
 *
 * @example
 * ```ts
 * import { sameThumbprint } from "@mtls/mcp/auth";
 * sameThumbprint("abc", "abc"); // true
 * ```
 */
export function sameThumbprint(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  // timingSafeEqual needs equal lengths; comparing x with itself keeps the time flat.
  if (x.length !== y.length) return timingSafeEqual(x, x) && false;
  return timingSafeEqual(x, y);
}

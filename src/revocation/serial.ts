/**
 * The serial number form revocation uses for lookups and in verdicts (lower
 * case hex, no separators, no leading zeros, `"0"` for zero), shared by CRL
 * lookups, OCSP, the checker and the CLI. The certificate model prints
 * serials as OpenSSL does (upper case, whole bytes); CRL keys, verdicts,
 * messages and `revoked.json` have always used this form, so it stays.
 *
 * @module
 */
import type { Certificate } from "../cert/certificate.ts";

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Normalizes a certificate serial number written in hex (`"01:AB"`,
 * `"0x01ab"`, `"1AB"`) to the form used for lookups and in verdicts: lower
 * case, no separators, no leading zeros. Returns `undefined` when `hex` is not
 * hexadecimal.
 *
 * @example
 * ```ts
 * import { normalizeSerial } from "@mtls/mcp/revocation";
 * normalizeSerial("00:1A:2B"); // "1a2b"
 * ```
 */
export function normalizeSerial(hex: string): string | undefined {
  const s = hex.trim().replace(/^0x/i, "").replace(/[:\s]/g, "").toLowerCase();
  if (!/^[0-9a-f]+$/.test(s)) return undefined;
  return s.replace(/^0+/, "") || "0";
}

/**
 * The normalized hex of an INTEGER's content octets `b[start..end)` (a
 * serial in a CRL entry, an OCSP certID or a certificate): the same form as
 * {@link normalizeSerial}, without building an intermediate string.
 *
 * @example
 * ```ts
 * import { serialHexAt } from "./serial.ts";
 * console.log(serialHexAt(new Uint8Array([0x00, 0x0a, 0xbc]), 0, 3)); // "abc"
 * ```
 */
export function serialHexAt(b: Uint8Array, start: number, end: number): string {
  let i = start;
  while (i < end && b[i] === 0) i++;
  if (i === end) return "0";
  let s = b[i] < 16 ? b[i].toString(16) : HEX[b[i]];
  for (i++; i < end; i++) s += HEX[b[i]];
  return s;
}

const SERIALS = new WeakMap<Certificate, string>();

/**
 * The normalized serial of `cert`, made once per certificate (a checked
 * certificate's serial is read several times per check).
 *
 * @example
 * ```ts ignore
 * import { readCertificate } from "@mtls/mcp/cert";
 * import { serialOf } from "./serial.ts";
 * crl.find(serialOf(readCertificate(leafDer)));
 * ```
 */
export function serialOf(cert: Certificate): string {
  let s = SERIALS.get(cert);
  if (s === undefined) {
    s = serialHexAt(cert.serialBytes, 0, cert.serialBytes.length);
    SERIALS.set(cert, s);
  }
  return s;
}

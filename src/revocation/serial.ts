/**
 * Serial number normalization shared by CRL lookups, OCSP and the CLI.
 *
 * @module
 */
import { normalizeSerial as normalize } from "./der.ts";

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
  return normalize(hex);
}

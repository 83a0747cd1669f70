/**
 * The revocation-specific DER helpers (certificate serials, PEM or DER
 * input). The reader itself lives in `../pki/der.ts` and is re-exported here
 * so the revocation modules keep one import.
 *
 * @module
 */

import { DerError } from "../pki/der.ts";

export {
  bytesEqual,
  children,
  content,
  DerError,
  expectTlv,
  readOid,
  readTime,
  readTlv,
  toHex,
  whole,
} from "../pki/der.ts";
export type { Tlv } from "../pki/der.ts";

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * The normalized hex of an INTEGER's content octets (a certificate serial):
 * lower case, no leading zeros, `"0"` for zero. Same form as {@link normalizeSerial}.
 */
export function serialHexAt(b: Uint8Array, start: number, end: number): string {
  let i = start;
  while (i < end && b[i] === 0) i++;
  if (i === end) return "0";
  let s = b[i] < 16 ? b[i].toString(16) : HEX[b[i]];
  for (i++; i < end; i++) s += HEX[b[i]];
  return s;
}

/**
 * Normalizes a serial number written in hex (`"01:AB"`, `"0x01ab"`, `"1AB"`) to
 * the form used for lookups: lower case, no separators, no leading zeros.
 * Returns `undefined` when `hex` is not hexadecimal.
 */
export function normalizeSerial(hex: string): string | undefined {
  const s = hex.trim().replace(/^0x/i, "").replace(/[:\s]/g, "").toLowerCase();
  if (!/^[0-9a-f]+$/.test(s)) return undefined;
  return s.replace(/^0+/, "") || "0";
}

/** Decodes PEM (first block with `label`) or returns DER input unchanged. */
export function pemOrDer(input: Uint8Array | string, label: string): Uint8Array {
  const text = typeof input === "string"
    ? input
    : input.length > 0 && input[0] === 0x30
    ? undefined
    : new TextDecoder().decode(input.subarray(0, Math.min(input.length, 64 * 1024 * 1024)));
  if (text === undefined) return input as Uint8Array;
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`);
  const m = text.match(re);
  if (!m) throw new DerError(`no "${label}" PEM block and not DER`);
  const bin = atob(m[1].replace(/[\r\n\s]/g, ""));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

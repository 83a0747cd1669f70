/**
 * A minimal DER reader: just enough to walk certificates, CRLs and OCSP
 * structures without building an object per node. Large CRLs are scanned with
 * it so a million revoked entries cost one pass and no per-entry objects.
 *
 * @module
 */

/** One tag-length-value node: offsets into the buffer it was read from. */
export interface Tlv {
  /** The identifier octet (single-byte tags only). */
  tag: number;
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first content octet. */
  valueStart: number;
  /** Offset just past the last content octet. */
  end: number;
}

/** Thrown by the reader on malformed input; callers wrap it in a coded error. */
export class DerError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

/** Reads the node at `pos`, which must end at or before `limit`. */
export function readTlv(b: Uint8Array, pos: number, limit: number = b.length): Tlv {
  if (pos + 2 > limit) throw new DerError(`truncated DER at offset ${pos}`);
  const tag = b[pos];
  if ((tag & 0x1f) === 0x1f) throw new DerError(`unsupported high tag number at offset ${pos}`);
  let len = b[pos + 1];
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) throw new DerError(`bad DER length at offset ${pos}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i];
    p += n;
  }
  const end = p + len;
  if (end > limit) throw new DerError(`DER value at offset ${pos} overruns its container`);
  return { tag, start: pos, valueStart: p, end };
}

/** Reads a node and checks its tag. */
export function expectTlv(b: Uint8Array, pos: number, tag: number, limit?: number): Tlv {
  const t = readTlv(b, pos, limit);
  if (t.tag !== tag) {
    throw new DerError(
      `expected tag 0x${tag.toString(16)} at offset ${pos}, found 0x${t.tag.toString(16)}`,
    );
  }
  return t;
}

/** The direct children of a constructed node. */
export function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.valueStart; p < parent.end;) {
    const t = readTlv(b, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

/** The bytes of a whole node (header included), without copying. */
export function whole(b: Uint8Array, t: Tlv): Uint8Array {
  return b.subarray(t.start, t.end);
}

/** The content bytes of a node, without copying. */
export function content(b: Uint8Array, t: Tlv): Uint8Array {
  return b.subarray(t.valueStart, t.end);
}

/** Decodes an OBJECT IDENTIFIER node to dotted form. */
export function readOid(b: Uint8Array, t: Tlv): string {
  if (t.tag !== 0x06) throw new DerError(`expected an OID at offset ${t.start}`);
  const parts: number[] = [];
  let v = 0;
  for (let i = t.valueStart; i < t.end; i++) {
    v = v * 128 + (b[i] & 0x7f);
    if (!(b[i] & 0x80)) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

/** Decodes a UTCTime or GeneralizedTime node. */
export function readTime(b: Uint8Array, t: Tlv): Date {
  const s = String.fromCharCode(...content(b, t));
  let m: RegExpMatchArray | null;
  if (t.tag === 0x17 && (m = s.match(/^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/))) {
    const yy = Number(m[1]);
    return new Date(
      Date.UTC(yy < 50 ? 2000 + yy : 1900 + yy, +m[2] - 1, +m[3], +m[4], +m[5], +m[6]),
    );
  }
  if (t.tag === 0x18 && (m = s.match(/^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d+))?Z$/))) {
    const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
    return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms));
  }
  throw new DerError(`bad time "${s}" at offset ${t.start}`);
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

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

/** Byte-wise equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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

/**
 * The project's one DER reader: just enough to walk certificates, CRLs and
 * OCSP structures without building an object per node. Runtime-neutral (plain
 * bytes in, offsets out) and internal: it is not exported from `pki/mod.ts`.
 * Callers wrap {@link DerError} in their own coded error.
 *
 * @module
 */

/**
 * One tag-length-value node: offsets into the buffer it was read from.
 *
 * @example
 * ```ts
 * import type { Tlv } from "./der.ts";
 * const t: Tlv = { tag: 0x30, start: 0, valueStart: 2, end: 2 };
 * ```
 */
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

/**
 * What was wrong, for callers that word their own message: `truncated` (no
 * room for a header), `high_tag` (multi-byte tag), `length` (bad length
 * octets), `overrun` (the value runs past its container), `tag` (an
 * unexpected tag), `malformed` (anything else).
 *
 * @example
 * ```ts
 * import type { DerErrorKind } from "./der.ts";
 * const kind: DerErrorKind = "overrun";
 * ```
 */
export type DerErrorKind = "truncated" | "high_tag" | "length" | "overrun" | "tag" | "malformed";

/**
 * Thrown by the reader on malformed input; callers wrap it in a coded error.
 *
 * @example
 * ```ts
 * import { DerError, readTlv } from "./der.ts";
 * try {
 *   readTlv(new Uint8Array([0x30]), 0);
 * } catch (e) {
 *   console.assert(e instanceof DerError && e.kind === "truncated" && e.offset === 0);
 * }
 * ```
 */
export class DerError extends Error {
  /** What was wrong. */
  readonly kind: DerErrorKind;
  /** Offset of the node at fault, when known. */
  readonly offset?: number;
  /** Creates the error. */
  constructor(message: string, kind: DerErrorKind = "malformed", offset?: number) {
    super(message);
    this.name = "DerError";
    this.kind = kind;
    this.offset = offset;
  }
}

/**
 * Reads the node at `pos`, which must end at or before `limit`.
 *
 * @throws {DerError} when the header or the value does not fit
 *
 * @example
 * ```ts
 * import { readTlv } from "./der.ts";
 * const t = readTlv(new Uint8Array([0x04, 0x01, 0xff]), 0);
 * console.assert(t.tag === 0x04 && t.valueStart === 2 && t.end === 3);
 * ```
 */
export function readTlv(b: Uint8Array, pos: number, limit: number = b.length): Tlv {
  if (pos + 2 > limit) throw new DerError(`truncated DER at offset ${pos}`, "truncated", pos);
  const tag = b[pos];
  if ((tag & 0x1f) === 0x1f) {
    throw new DerError(`unsupported high tag number at offset ${pos}`, "high_tag", pos);
  }
  let len = b[pos + 1];
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) {
      throw new DerError(`bad DER length at offset ${pos}`, "length", pos);
    }
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i];
    p += n;
  }
  const end = p + len;
  if (end > limit) {
    throw new DerError(`DER value at offset ${pos} overruns its container`, "overrun", pos);
  }
  return { tag, start: pos, valueStart: p, end };
}

/**
 * Reads a node and checks its tag.
 *
 * @throws {DerError} as {@link readTlv}, or `tag` when the tag differs
 *
 * @example
 * ```ts
 * import { expectTlv } from "./der.ts";
 * const seq = expectTlv(new Uint8Array([0x30, 0x00]), 0, 0x30);
 * console.assert(seq.end === 2);
 * ```
 */
export function expectTlv(b: Uint8Array, pos: number, tag: number, limit?: number): Tlv {
  const t = readTlv(b, pos, limit);
  if (t.tag !== tag) {
    throw new DerError(
      `expected tag 0x${tag.toString(16)} at offset ${pos}, found 0x${t.tag.toString(16)}`,
      "tag",
      pos,
    );
  }
  return t;
}

/**
 * The direct children of a constructed node.
 *
 * @example
 * ```ts
 * import { children, readTlv } from "./der.ts";
 * const b = new Uint8Array([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02]);
 * console.assert(children(b, readTlv(b, 0)).length === 2);
 * ```
 */
export function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.valueStart; p < parent.end;) {
    const t = readTlv(b, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

/**
 * The bytes of a whole node (header included), without copying.
 *
 * @example
 * ```ts
 * import { readTlv, whole } from "./der.ts";
 * const b = new Uint8Array([0x05, 0x00, 0xff]);
 * console.assert(whole(b, readTlv(b, 0)).length === 2);
 * ```
 */
export function whole(b: Uint8Array, t: Tlv): Uint8Array {
  return b.subarray(t.start, t.end);
}

/**
 * The content bytes of a node, without copying.
 *
 * @example
 * ```ts
 * import { content, readTlv } from "./der.ts";
 * const b = new Uint8Array([0x04, 0x01, 0xff]);
 * console.assert(content(b, readTlv(b, 0))[0] === 0xff);
 * ```
 */
export function content(b: Uint8Array, t: Tlv): Uint8Array {
  return b.subarray(t.valueStart, t.end);
}

/**
 * Decodes the content octets of an OBJECT IDENTIFIER to dotted form, whatever
 * the node's tag (see {@link readOid} for the checked form).
 *
 * @example
 * ```ts
 * import { decodeOid } from "./der.ts";
 * console.assert(decodeOid(new Uint8Array([0x55, 0x04, 0x03])) === "2.5.4.3");
 * ```
 */
export function decodeOid(bytes: Uint8Array): string {
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < bytes.length; i++) {
    v = v * 128 + (bytes[i] & 0x7f);
    if (!(bytes[i] & 0x80)) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

/**
 * Decodes an OBJECT IDENTIFIER node to dotted form.
 *
 * @throws {DerError} `tag` when the node is not an OID
 *
 * @example
 * ```ts
 * import { readOid, readTlv } from "./der.ts";
 * const b = new Uint8Array([0x06, 0x03, 0x55, 0x1d, 0x25]);
 * console.assert(readOid(b, readTlv(b, 0)) === "2.5.29.37");
 * ```
 */
export function readOid(b: Uint8Array, t: Tlv): string {
  if (t.tag !== 0x06) throw new DerError(`expected an OID at offset ${t.start}`, "tag", t.start);
  return decodeOid(content(b, t));
}

/**
 * Decodes a UTCTime or GeneralizedTime node.
 *
 * @throws {DerError} when the node is neither or its text is not a time
 *
 * @example
 * ```ts
 * import { readTime, readTlv } from "./der.ts";
 * const b = new Uint8Array([0x17, 13, ...new TextEncoder().encode("250102030405Z")]);
 * console.assert(readTime(b, readTlv(b, 0)).toISOString() === "2025-01-02T03:04:05.000Z");
 * ```
 */
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
  throw new DerError(`bad time "${s}" at offset ${t.start}`, "malformed", t.start);
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Lower-case hex of `bytes`.
 *
 * @example
 * ```ts
 * import { toHex } from "./der.ts";
 * console.assert(toHex(new Uint8Array([0x0a, 0xff])) === "0aff");
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

/**
 * Byte-wise equality.
 *
 * @example
 * ```ts
 * import { bytesEqual } from "./der.ts";
 * console.assert(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
 * ```
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

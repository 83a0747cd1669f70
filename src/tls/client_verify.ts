/**
 * Checks the client makes on the server's leaf certificate itself: EKU
 * serverAuth and (for diagnosis) validity dates. Pins are checked by
 * `client_pins.ts`, never on a certificate fetched for diagnosis. They read the
 * DER the TLS stack hands over; Deno's `node:tls` reports no EKU and maps
 * several verdicts to one code, so we look ourselves.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { X509Certificate } from "node:crypto";
import { PeerRejectedError, type ReasonCode } from "../errors.ts";

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const ANY_EKU = "2.5.29.37.0";
const EKU_OID = "2.5.29.37";

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function tlv(b: Uint8Array, off: number): Tlv {
  if (off + 2 > b.length) throw new RangeError("DER truncated");
  const tag = b[off];
  let len = b[off + 1];
  let p = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4) throw new RangeError("DER length unsupported");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p++];
  }
  if (p + len > b.length) throw new RangeError("DER truncated");
  return { tag, start: p, end: p + len };
}

function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.start; p < parent.end;) {
    const t = tlv(b, p);
    out.push(t);
    p = t.end;
  }
  return out;
}

function oid(b: Uint8Array, t: Tlv): string {
  const arcs: number[] = [];
  let v = 0;
  for (let i = t.start; i < t.end; i++) {
    v = v * 128 + (b[i] & 0x7f);
    if (!(b[i] & 0x80)) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    }
  }
  return arcs.join(".");
}

/**
 * The extended key usage OIDs of a DER certificate, or `undefined` when it has
 * no EKU extension (which allows every usage).
 */
export function extendedKeyUsages(der: Uint8Array): string[] | undefined {
  const cert = tlv(der, 0);
  const tbs = children(der, cert)[0];
  for (const field of children(der, tbs)) {
    if (field.tag !== 0xa3) continue;
    const list = tlv(der, field.start);
    for (const ext of children(der, list)) {
      const parts = children(der, ext);
      if (oid(der, parts[0]) !== EKU_OID) continue;
      const value = parts[parts.length - 1];
      return children(der, tlv(der, value.start)).map((t) => oid(der, t));
    }
  }
  return undefined;
}

/** What the client found wrong with a server certificate. */
export interface LeafVerdict {
  reason: ReasonCode;
  message: string;
}

/** The EKU check on the server leaf; `undefined` when it passes. */
export function checkServerLeaf(der: Uint8Array, peer: string): LeafVerdict | undefined {
  let ekus: string[] | undefined;
  try {
    ekus = extendedKeyUsages(der);
  } catch {
    return { reason: "bad_key_usage", message: `Server "${peer}" sent an unreadable certificate` };
  }
  if (ekus && !ekus.includes(SERVER_AUTH) && !ekus.includes(ANY_EKU)) {
    return {
      reason: "bad_key_usage",
      message: `Server "${peer}" certificate ("${subjectOf(der)}") lacks extended key usage ` +
        `serverAuth (has "${ekus.join(",")}")`,
    };
  }
  return undefined;
}

/**
 * Why a leaf that the TLS stack refused is bad, judged from the certificate
 * alone (dates, then EKU); `undefined` when neither explains it (then the
 * chain is what failed).
 */
export function diagnoseServerLeaf(
  der: Uint8Array,
  peer: string,
  now: Date = new Date(),
): LeafVerdict | undefined {
  const x = new X509Certificate(Buffer.from(der));
  const to = new Date(x.validTo);
  const from = new Date(x.validFrom);
  if (now > to) {
    return {
      reason: "expired",
      message: `Server "${peer}" certificate ("${x.subject}") expired on ${to.toISOString()}`,
    };
  }
  if (now < from) {
    return {
      reason: "not_yet_valid",
      message:
        `Server "${peer}" certificate ("${x.subject}") is not valid before ${from.toISOString()}`,
    };
  }
  return checkServerLeaf(der, peer);
}

/** The subject of a DER certificate, for messages. */
export function subjectOf(der: Uint8Array): string {
  try {
    return new X509Certificate(Buffer.from(der)).subject.replaceAll("\n", ", ");
  } catch {
    return "unreadable";
  }
}

/** A {@link PeerRejectedError} from a verdict. */
export function rejection(v: LeafVerdict, peer: string, cause?: unknown): PeerRejectedError {
  return new PeerRejectedError(v.reason, v.message, { peer, cause });
}

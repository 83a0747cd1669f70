/**
 * Checks the client makes on the server's leaf certificate itself: host name,
 * EKU serverAuth, pins (through `client_pins.ts`, never on a certificate
 * fetched for diagnosis) and, for diagnosis, validity dates. They read the
 * DER the TLS stack hands over; Deno's `node:tls` reports no EKU and maps
 * several verdicts to one code, so we look ourselves. Both transports (the
 * undici connector and Bun's fetch) run {@link handshakeCheck} from their
 * `checkServerIdentity`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { X509Certificate } from "node:crypto";
import tls from "node:tls";
import { PeerRejectedError, type ReasonCode } from "../errors.ts";
import { children, content, decodeOid, readTlv } from "../pki/der.ts";
import type { ResolvedClientOptions } from "./client_options.ts";

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const ANY_EKU = "2.5.29.37.0";
const EKU_OID = "2.5.29.37";

/**
 * The extended key usage OIDs of a DER certificate, or `undefined` when it has
 * no EKU extension (which allows every usage).
 */
export function extendedKeyUsages(der: Uint8Array): string[] | undefined {
  const tbs = children(der, readTlv(der, 0))[0];
  for (const field of children(der, tbs)) {
    if (field.tag !== 0xa3) continue;
    for (const ext of children(der, readTlv(der, field.valueStart, field.end))) {
      const parts = children(der, ext);
      if (decodeOid(content(der, parts[0])) !== EKU_OID) continue;
      const value = parts[parts.length - 1];
      const list = readTlv(der, value.valueStart, value.end);
      return children(der, list).map((t) => decodeOid(content(der, t)));
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

/** The checks of one connection to a server, run inside its handshake. */
export interface HandshakeCheck {
  /**
   * For `checkServerIdentity` (the chain has verified): host name (strict
   * policy; a warning under demo), EKU, then pins. Synchronous, no I/O.
   */
  check(host: string, cert: tls.PeerCertificate): Error | undefined;
  /** The pins alone (for a connection whose identity was checked another way). */
  pins(der: Uint8Array): Error | undefined;
  /** Whether the pin check met `peer` before the pin store knew it (trust on first use). */
  readonly firstUse: boolean;
}

/**
 * The handshake checks of one connection to `peer` (`host:port`, which keys
 * the pins and names the server in every message).
 */
export function handshakeCheck(o: ResolvedClientOptions, peer: string): HandshakeCheck {
  let firstUse = false;
  const pins = (der: Uint8Array): Error | undefined => {
    if (!o.pins) return undefined;
    firstUse = !o.pins.knows(peer);
    return o.pins.check(peer, der, peer);
  };
  return {
    check: (host, cert) => identityCheck(o, peer, host, cert) ?? pins(cert.raw),
    pins,
    get firstUse() {
      return firstUse;
    },
  };
}

/** Host name (strict policy) or a warning (demo), then EKU, on the verified leaf. */
function identityCheck(
  o: ResolvedClientOptions,
  peer: string,
  host: string,
  cert: tls.PeerCertificate,
): Error | undefined {
  const name = o.serverName ?? host;
  if (tls.checkServerIdentity(name, cert)) {
    if (o.policy === "strict") {
      return rejection({
        reason: "hostname_mismatch",
        message: `Server "${peer}" certificate ("${subjectOf(cert.raw)}") is not valid for ` +
          `"${name}" (it names "${cert.subjectaltname ?? "nothing"}")`,
      }, peer);
    }
    o.logger.warn("demo policy: accepting a server certificate for another host name", {
      peer,
      name,
      subjectAltName: cert.subjectaltname,
    });
  }
  const v = checkServerLeaf(cert.raw, peer);
  return v ? rejection(v, peer) : undefined;
}

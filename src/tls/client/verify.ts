/**
 * Checks the client makes on the server's certificates itself, after the
 * TLS stack accepted the chain and never instead of it: host name (RFC 9525,
 * `policy/host_name.ts`, in place of `tls.checkServerIdentity`, which falls
 * back to the subject CN and accepts partial-label wildcards), EKU
 * serverAuth, the rules of the server's chain validator
 * (`policy/verify_server_chain.ts`), then pins (through `client_pins.ts`,
 * never on a certificate fetched for diagnosis). Deno's `node:tls` reports
 * no EKU and maps several verdicts to one code, and the three runtimes' TLS
 * stacks disagree on weak keys and signatures, so we look ourselves. Both
 * transports (the undici connector and Bun's fetch) run
 * {@link handshakeCheck} from their `checkServerIdentity`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type tls from "node:tls";
import { type Certificate, readCertificate } from "../../cert/certificate.ts";
import { PeerRejectedError, type ReasonCode } from "../../errors.ts";
import { checkHostName } from "../../policy/host_name.ts";
import { LruMap } from "../../limits/lru.ts";
import { completeServerPath, verifyServerChain } from "../../policy/verify_server_chain.ts";
import type { ResolvedClientOptions } from "./options.ts";

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const ANY_EKU = "2.5.29.37.0";
/** The stacks link a root to itself; no real chain is longer than this. */
const MAX_PATH = 10;

/** What the client found wrong with a server certificate. */
export interface LeafVerdict {
  /** The reason code of the refusal. */
  reason: ReasonCode;
  /** What was refused and why, naming the server. */
  message: string;
}

/** A server certificate read into the model, or the refusal of an unreadable one. */
function certOf(der: Uint8Array, peer: string): Certificate | LeafVerdict {
  try {
    return readCertificate(der);
  } catch {
    return {
      reason: "bad_certificate",
      message: `Server "${peer}" sent an unreadable certificate`,
    };
  }
}

/** The EKU check on the server leaf; `undefined` when it passes. */
export function checkServerLeaf(der: Uint8Array, peer: string): LeafVerdict | undefined {
  const cert = certOf(der, peer);
  if ("reason" in cert) return cert;
  const ekus = cert.extendedKeyUsage;
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
 * The server's chain as the TLS stack linked it (`getPeerCertificate(true)`:
 * leaf first, each certificate followed by its issuer); the leaf alone where
 * the stack shows no more (Bun's fetch).
 */
export function serverPath(cert: tls.PeerCertificate): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  let x: tls.DetailedPeerCertificate | undefined = cert as tls.DetailedPeerCertificate;
  while (x?.raw && out.length < MAX_PATH && !seen.has(x.fingerprint256)) {
    seen.add(x.fingerprint256);
    out.push(new Uint8Array(x.raw));
    x = x.issuerCertificate;
  }
  return out;
}

// The chain rules cost about 55 µs per certificate (parsing, extensions,
// strength; measured on Deno 2.9.6) and depend only on the certificates'
// bytes and the trusted CAs, except validity, which depends on the clock: a
// chain that passed is remembered with the window in which all of its
// certificates are valid, per set of trusted CAs. Refusals are not remembered.
const PASSED_MAX = 1_000;
const passedChains = new WeakMap<
  readonly Certificate[],
  LruMap<{ from: number; to: number }>
>();

function remember(anchors: readonly Certificate[], key: string, chain: Certificate[]) {
  let lru = passedChains.get(anchors);
  if (!lru) passedChains.set(anchors, lru = new LruMap({ max: PASSED_MAX }));
  if (lru.get(key)) return;
  lru.set(key, {
    from: Math.max(...chain.map((c) => c.notBefore.getTime())),
    to: Math.min(...chain.map((c) => c.notAfter.getTime())),
  });
}

/**
 * The server chain judged by the rules of the server's chain validator (see
 * `policy/verify_server_chain.ts`), completed from the configured CAs;
 * `undefined` when it passes.
 */
export function checkServerChain(
  path: readonly Uint8Array[],
  anchors: readonly Certificate[],
  peer: string,
  now: Date = new Date(),
): LeafVerdict | undefined {
  const key = path.map((der) => createHash("sha256").update(der).digest("base64")).join(">");
  const known = passedChains.get(anchors)?.get(key);
  if (known && known.from <= now.getTime() && now.getTime() <= known.to) return undefined;
  let chain: Certificate[];
  try {
    chain = completeServerPath(path.map((der) => readCertificate(der)), anchors);
  } catch {
    return {
      reason: "bad_certificate",
      message: `Server "${peer}" sent an unreadable certificate`,
    };
  }
  const refused = verifyServerChain(chain, { anchors, now });
  if (!refused) {
    remember(anchors, key, chain);
    return undefined;
  }
  return {
    reason: refused.reason,
    message: `Server "${peer}" certificate ("${subjectOf(path[0])}") refused: ${refused.message}`,
  };
}

/**
 * Why a chain that the TLS stack refused, or that the demo policy takes
 * unverified, is bad, judged from the certificates alone: the leaf's dates,
 * then its EKU, then the chain rules; `undefined` when none explains it (then
 * the chain's trust is what failed). `path` is leaf first.
 */
export function diagnoseServerChain(
  path: readonly Uint8Array[],
  anchors: readonly Certificate[],
  peer: string,
  now: Date = new Date(),
): LeafVerdict | undefined {
  const x = certOf(path[0], peer);
  if ("reason" in x) return x;
  const { notAfter: to, notBefore: from } = x;
  if (now > to) {
    return {
      reason: "expired",
      message: `Server "${peer}" certificate ("${x.subject.text}") expired on ${to.toISOString()}`,
    };
  }
  if (now < from) {
    return {
      reason: "not_yet_valid",
      message:
        `Server "${peer}" certificate ("${x.subject.text}") is not valid before ${from.toISOString()}`,
    };
  }
  return checkServerLeaf(path[0], peer) ?? checkServerChain(path, anchors, peer, now);
}

/** The subject of a DER certificate, for messages. */
export function subjectOf(der: Uint8Array): string {
  try {
    return readCertificate(der).subject.text.replaceAll("\n", ", ");
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
   * policy; a warning under demo), EKU, the chain rules, then pins.
   * Synchronous, no I/O.
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

/** Host name (strict policy) or a warning (demo), then EKU and the chain rules. */
function identityCheck(
  o: ResolvedClientOptions,
  peer: string,
  host: string,
  cert: tls.PeerCertificate,
): Error | undefined {
  const name = o.serverName ?? host;
  const der = new Uint8Array(cert.raw);
  const leaf = certOf(der, peer);
  if ("reason" in leaf) return rejection(leaf, peer);
  const mismatch = checkHostName(name, leaf);
  if (mismatch) {
    if (o.policy === "strict") {
      return rejection({
        reason: "hostname_mismatch",
        message: `Server "${peer}" certificate ("${subjectOf(der)}") is not valid for ` +
          `"${name}" (${mismatch.detail})`,
      }, peer);
    }
    o.logger.warn("demo policy: accepting a server certificate for another host name", {
      peer,
      name,
      detail: mismatch.detail,
    });
  }
  const v = checkServerLeaf(der, peer) ?? checkServerChain(serverPath(cert), o.anchors, peer);
  return v ? rejection(v, peer) : undefined;
}

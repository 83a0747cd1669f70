/**
 * The client's own judgement of a server chain that the TLS stack has
 * already accepted (never instead of the stack's check): the rules of
 * `verify_chain.ts`, for serverAuth, so that a server chain gets the same
 * verdict and reason code on Deno (rustls), Node.js (OpenSSL) and Bun
 * (BoringSSL), which disagree on weak keys, SHA-1 and what they report.
 *
 * The path comes from the stack: leaf first, each certificate followed by
 * its issuer, as `getPeerCertificate(true)` links them. Bun's fetch shows
 * the leaf alone; a path whose top is not self-issued is completed from the
 * configured CAs (`anchors`). A path that cannot be completed (the server
 * sent an intermediate Bun does not show, or the CA is one of the runtime's
 * public roots) is judged as far as it goes: the stack vouched for the rest.
 *
 * Rules, reusing the exports of `verify_chain.ts` and `signature_strength.ts`:
 * - leaf: extended key usage, when present, allows serverAuth (`bad_key_usage`);
 * - strength, nearest the leaf first: a SHA-1/MD5 signature on any
 *   certificate but a self-signed top (`weak_signature`); an RSA key under
 *   2048 bits or a DSA key on any certificate, the top included (`weak_key`);
 * - every certificate: no critical extension we do not process, and no
 *   policy constraints (no policy tree: `unknown_ca`, from
 *   `checkCriticalExtensions`); name constraints of every CA applied to the
 *   certificates below it, as for client chains (`unknown_ca`, from
 *   `checkChainNameConstraints`);
 * - every issuer: a CA (basicConstraints cA), keyUsage (when present) allows
 *   keyCertSign, EKU (when present) allows serverAuth, pathLenConstraint
 *   respected (`unknown_ca` / `bad_key_usage`);
 * - every certificate within its validity period (`expired`, `not_yet_valid`).
 *
 * @module
 */

import type { Certificate } from "../cert/certificate.ts";
import { namesIssuer, signedBy as keySigned } from "../cert/verify_signature.ts";
import { LruMap } from "../limits/lru.ts";
import { checkKeyStrength, checkSignatureStrength } from "./signature_strength.ts";
import {
  checkChainNameConstraints,
  checkCriticalExtensions,
  checkValidity,
  isSelfIssued,
  lacksKeyCertSign,
  type Refusal,
} from "./verify_chain.ts";

/** id-kp-serverAuth */
const OID_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const OID_ANY_EKU = "2.5.29.37.0";
/** Longest path judged: the stacks' own limits are far above any real chain. */
const MAX_PATH = 10;

/**
 * Options of {@link verifyServerChain}.
 *
 * @example
 * ```ts
 * import type { ServerChainOptions } from "./verify_server_chain.ts";
 * const o: ServerChainOptions = { anchors: [], now: new Date() };
 * ```
 */
export interface ServerChainOptions {
  /** The client's trusted CAs, to complete a path the stack showed only in part. */
  anchors: readonly Certificate[];
  /** The time validity is checked against. */
  now: Date;
}

// Completing a path verifies a signature (Bun: once per new connection); the
// answer depends only on the two certificates, so it is remembered, bounded.
const MEMO_MAX = 1_000;
const signatureMemo = new LruMap<boolean>({ max: MEMO_MAX });

function signedBy(child: Certificate, parent: Certificate): boolean {
  try {
    if (!namesIssuer(child, parent)) return false;
    const key = `${child.fingerprint}>${parent.fingerprint}`;
    let ok = signatureMemo.get(key);
    if (ok === undefined) {
      ok = keySigned(child, parent.publicKey);
      signatureMemo.set(key, ok);
    }
    return ok;
  } catch {
    return false;
  }
}

const selfIssued = isSelfIssued;

/**
 * `path` (leaf first, as the TLS stack linked it), completed with the
 * `anchors` that sign its top, up to a self-issued certificate; what
 * {@link verifyServerChain} judges.
 *
 * @example
 * ```ts ignore
 * import { completeServerPath } from "./verify_server_chain.ts";
 * completeServerPath([leaf], [root]).length; // 2 when root signed leaf
 * ```
 */
export function completeServerPath(
  path: readonly Certificate[],
  anchors: readonly Certificate[],
): Certificate[] {
  const out = path.slice(0, MAX_PATH);
  for (let top = out[out.length - 1]; !selfIssued(top) && out.length < MAX_PATH;) {
    const next = anchors.find((a) => !out.includes(a) && signedBy(top, a));
    if (!next) break;
    out.push(top = next);
  }
  return out;
}

function roleOf(k: number, length: number, anchored: boolean): string {
  if (k === 0) return "Server certificate";
  return k === length - 1 && anchored ? "Trusted CA" : "Intermediate CA";
}

function allowsServerAuth(eku: readonly string[] | undefined): boolean {
  return !eku || eku.includes(OID_SERVER_AUTH) || eku.includes(OID_ANY_EKU);
}

/** The issuer rules (k >= 1): a CA, keyCertSign, EKU serverAuth, pathLen. */
function issuerRefusal(c: Certificate, role: string, below: number): Refusal | undefined {
  const name = `${role} "${c.subject.text}"`;
  if (!c.basicConstraints?.ca) {
    return { reason: "unknown_ca", message: `${name} is not a CA certificate` };
  }
  if (lacksKeyCertSign(c)) {
    return { reason: "bad_key_usage", message: `${name} key usage does not allow keyCertSign` };
  }
  if (!allowsServerAuth(c.extendedKeyUsage)) {
    return {
      reason: "bad_key_usage",
      message: `${name} extended key usage does not allow serverAuth (has ${
        c.extendedKeyUsage!.join(", ") || "none"
      }), so it cannot vouch for a server certificate`,
    };
  }
  const pathLength = c.basicConstraints.pathLength;
  if (pathLength !== undefined && pathLength < below) {
    return {
      reason: "unknown_ca",
      message: `Path length constraint exceeded: ${name} has pathLen ${pathLength} ` +
        `but ${below} intermediate CA certificate${below === 1 ? "" : "s"} below it`,
    };
  }
  return undefined;
}

/**
 * Judges a server chain the TLS stack accepted, by the rules of the server's
 * client-chain validator with serverAuth in place of clientAuth (see the
 * module doc). `path` is leaf first, each certificate followed by its issuer
 * as far as the stack showed it.
 *
 * @param path the server's chain, leaf first
 * @param options the client's trusted CAs and the time
 * @returns `undefined` when every rule passes, else the first refusal
 *
 * @example Judging a chain after the handshake
 * ```ts ignore
 * import { verifyServerChain } from "./verify_server_chain.ts";
 * const refusal = verifyServerChain([leaf, intermediate], { anchors: [root], now: new Date() });
 * if (refusal) console.log(refusal.reason); // e.g. "weak_key"
 * ```
 */
export function verifyServerChain(
  path: readonly Certificate[],
  options: ServerChainOptions,
): Refusal | undefined {
  if (path.length === 0) return { reason: "unknown_ca", message: "The server sent no certificate" };
  const chain = completeServerPath(path, options.anchors);
  const top = chain[chain.length - 1];
  // A self-issued top is the anchor the stack trusted: its self-signature is not relied on.
  const anchored = selfIssued(top);
  const leaf = chain[0];
  if (!allowsServerAuth(leaf.extendedKeyUsage)) {
    return {
      reason: "bad_key_usage",
      message:
        `Server certificate "${leaf.subject.text}" lacks extended key usage serverAuth (has ${
          leaf.extendedKeyUsage!.join(", ") || "none"
        })`,
    };
  }
  for (const [k, c] of chain.entries()) {
    const role = roleOf(k, chain.length, anchored);
    const exempt = anchored && k === chain.length - 1 && k > 0;
    const weak = (exempt ? undefined : checkSignatureStrength(role, c)) ??
      checkKeyStrength(role, c);
    if (weak) return weak;
  }
  let below = 0;
  for (const [k, c] of chain.entries()) {
    const refused = checkCriticalExtensions(c, { nameConstraintsApplied: true }) ??
      (k === 0 ? undefined : issuerRefusal(c, roleOf(k, chain.length, anchored), below));
    if (refused) return refused;
    if (k > 0 && !selfIssued(c)) below++;
  }
  return checkChainNameConstraints(chain) ?? checkValidity(chain, options.now);
}

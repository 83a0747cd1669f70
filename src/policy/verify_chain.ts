/**
 * Client certificate chain verification with precise reason codes.
 *
 * Deno's `node:tls` reports a coarse `authorizationError` (an expired, a
 * not-yet-valid and a serverAuth-only certificate all come back as
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`) and accepts a trusted CA certificate
 * presented as a client certificate, so the server verifies the chain itself.
 *
 * @module
 */

import type { X509Certificate } from "node:crypto";
import type { ReasonCode } from "../errors.ts";
import { readCertificateFields } from "./der.ts";

/** id-kp-clientAuth */
export const OID_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const OID_ANY_EKU = "2.5.29.37.0";

/**
 * Why a peer is refused: a reason code and a sentence for the log.
 *
 * @example
 * ```ts
 * import type { Refusal } from "@mtls/mcp/policy";
 * const r: Refusal = { reason: "identity_denied", message: 'Team "blue" is not allowed' };
 * ```
 */
export interface Refusal {
  /** Stable reason code from the design contract. */
  reason: ReasonCode;
  /** What was refused and why, for the server log. */
  message: string;
}

/**
 * Outcome of {@link verifyClientChain}.
 *
 * @example
 * ```ts
 * import type { ChainResult } from "@mtls/mcp/policy";
 * function ok(r: ChainResult): boolean { return !("reason" in r); }
 * ```
 */
export type ChainResult = { chain: X509Certificate[] } | Refusal;

/**
 * Options for {@link verifyClientChain}.
 *
 * @example
 * ```ts
 * import type { VerifyChainOptions } from "@mtls/mcp/policy";
 * const o: VerifyChainOptions = { anchors: [], maxChainDepth: 2, now: new Date() };
 * ```
 */
export interface VerifyChainOptions {
  /** Trusted CA certificates. */
  anchors: readonly X509Certificate[];
  /** Most intermediate CA certificates allowed between the leaf and a trusted CA. */
  maxChainDepth: number;
  /** The time validity is checked against. */
  now: Date;
}

/**
 * Checks that the leaf is a client certificate (not a CA; EKU, when present,
 * allows clientAuth; key usage, when present, allows digitalSignature), that it
 * chains to one of `anchors` through at most `maxChainDepth` intermediates,
 * and that every certificate in the chain is within its validity period.
 *
 * @example Verifying a presented chain
 * ```ts ignore
 * import { verifyClientChain } from "@mtls/mcp/policy";
 * const r = verifyClientChain(leaf, [], { anchors: [ca], maxChainDepth: 3, now: new Date() });
 * if ("reason" in r) console.log(r.reason);
 * ```
 */
export function verifyClientChain(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  options: VerifyChainOptions,
): ChainResult {
  const usage = checkClientUsage(leaf);
  if (usage) return usage;
  const chain = buildChain(leaf, intermediates, options);
  if ("reason" in chain) return chain;
  return checkValidity(chain.chain, options.now) ?? chain;
}

/**
 * The usage checks alone (not a CA, EKU clientAuth, digitalSignature).
 *
 * @example
 * ```ts ignore
 * import { checkClientUsage } from "@mtls/mcp/policy";
 * checkClientUsage(leaf)?.reason; // "bad_key_usage" or undefined
 * ```
 */
export function checkClientUsage(leaf: X509Certificate): Refusal | undefined {
  const fields = readCertificateFields(new Uint8Array(leaf.raw));
  const name = `"${leaf.subject}"`;
  if (fields.isCa) {
    return {
      reason: "bad_key_usage",
      message: `Certificate ${name} is a CA certificate, not a client certificate`,
    };
  }
  const eku = fields.extendedKeyUsage;
  if (eku && !eku.includes(OID_CLIENT_AUTH) && !eku.includes(OID_ANY_EKU)) {
    return {
      reason: "bad_key_usage",
      message: `Certificate ${name} lacks extended key usage clientAuth (has ${
        eku.join(", ") || "none"
      })`,
    };
  }
  if (fields.digitalSignature === false) {
    return {
      reason: "bad_key_usage",
      message: `Certificate ${name} key usage does not allow digitalSignature`,
    };
  }
  return undefined;
}

// Signature checks are the largest cost of admitting a client (about 1.25 ms
// each in Deno; a quarter of the server's handshake CPU in bench/mcp.ts). The
// answer depends only on the two certificates' bytes, so it is remembered,
// keyed by both SHA-256 fingerprints; validity, EKU, pins and revocation are
// still checked on every connection. Bounded: the oldest entry goes first.
const SIGNATURE_MEMO_MAX = 10_000;
const signatureMemo = new Map<string, boolean>();

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    if (!child.checkIssued(parent)) return false;
    const key = `${child.fingerprint256}>${parent.fingerprint256}`;
    const known = signatureMemo.get(key);
    if (known !== undefined) return known;
    const ok = child.verify(parent.publicKey);
    if (signatureMemo.size >= SIGNATURE_MEMO_MAX) {
      signatureMemo.delete(signatureMemo.keys().next().value!);
    }
    signatureMemo.set(key, ok);
    return ok;
  } catch {
    return false;
  }
}

function buildChain(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  { anchors, maxChainDepth }: VerifyChainOptions,
): ChainResult {
  const chain = [leaf];
  for (let cur = leaf;;) {
    const anchor = anchors.find((a) => issuedBy(cur, a));
    if (anchor) {
      chain.push(anchor);
      return { chain };
    }
    const next = intermediates.find((i) => i.ca && !chain.includes(i) && issuedBy(cur, i));
    if (!next) {
      const selfSigned = chain.length === 1 && issuedBy(leaf, leaf);
      return {
        reason: "unknown_ca",
        message: selfSigned
          ? `Certificate "${leaf.subject}" is self-signed and not trusted`
          : `Certificate "${cur.subject}" was issued by "${cur.issuer}", which is not a trusted CA`,
      };
    }
    if (chain.length > maxChainDepth) {
      return {
        reason: "unknown_ca",
        message:
          `Certificate chain of "${leaf.subject}" is longer than maxChainDepth ${maxChainDepth}`,
      };
    }
    chain.push(next);
    cur = next;
  }
}

/**
 * Validity-period check over a chain; the first offending certificate wins.
 *
 * @example
 * ```ts ignore
 * import { checkValidity } from "@mtls/mcp/policy";
 * checkValidity([leaf], new Date())?.reason; // "expired" | "not_yet_valid" | undefined
 * ```
 */
export function checkValidity(chain: readonly X509Certificate[], now: Date): Refusal | undefined {
  const t = now.getTime();
  for (const c of chain) {
    const from = new Date(c.validFrom).getTime();
    const to = new Date(c.validTo).getTime();
    if (t < from) {
      return {
        reason: "not_yet_valid",
        message: `Certificate "${c.subject}" is not valid before ${new Date(from).toISOString()}`,
      };
    }
    if (t > to) {
      return {
        reason: "expired",
        message: `Certificate "${c.subject}" expired at ${new Date(to).toISOString()}`,
      };
    }
  }
  return undefined;
}

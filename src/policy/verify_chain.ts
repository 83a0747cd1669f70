/**
 * Client certificate chain verification with precise reason codes.
 *
 * Deno's `node:tls` reports a coarse `authorizationError` (an expired, a
 * not-yet-valid and a serverAuth-only certificate all come back as
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`) and accepts a trusted CA certificate
 * presented as a client certificate, so the server verifies the chain itself,
 * on certificates of the model (`src/cert/`): names and extensions as read
 * once per certificate, signatures checked with `signedBy`.
 *
 * @module
 */

import type { Certificate } from "../cert/certificate.ts";
import { KEY_USAGE } from "../cert/extensions.ts";
import { namesIssuer, sameName, signedBy } from "../cert/verify_signature.ts";
import type { ReasonCode } from "../errors.ts";
import { LruMap } from "../limits/lru.ts";
import { checkKeyStrength, checkSignatureStrength } from "./signature_strength.ts";
import { checkNameConstraints } from "./name_constraints.ts";

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
export type ChainResult = { chain: Certificate[] } | Refusal;

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
  anchors: readonly Certificate[];
  /** Most intermediate CA certificates allowed between the leaf and a trusted CA. */
  maxChainDepth: number;
  /** The time validity is checked against. */
  now: Date;
}

/**
 * Checks that the leaf is a client certificate (not a CA; EKU, when present,
 * allows clientAuth; key usage, when present, allows digitalSignature), that it
 * chains to one of `anchors` through at most `maxChainDepth` intermediates,
 * that the chain obeys the RFC 5280 constraints we enforce, and that every
 * certificate in the chain is within its validity period.
 *
 * Constraints, checked on every certificate of the built chain (leaf,
 * intermediates and the trust anchor), failing closed like OpenSSL:
 * - basicConstraints pathLenConstraint: a CA with pathLen N admits at most N
 *   non-self-issued intermediate CAs below it (`unknown_ca`);
 * - a critical extension we do not process refuses the chain (`unknown_ca`).
 *   Processed: basicConstraints, keyUsage, extendedKeyUsage, subjectAltName,
 *   subjectKeyIdentifier, authorityKeyIdentifier, nameConstraints, and
 *   certificatePolicies, which needs no processing here: no policy is
 *   required of the peer (RFC 5280 §6.1 with initial-policy-set anyPolicy and
 *   no explicit policy), so policies can only reject a path through
 *   policyConstraints. The policy tree is NOT implemented: policyConstraints,
 *   critical or not, refuses the chain (`unknown_ca`) rather than being
 *   ignored; a critical policyMappings or inhibitAnyPolicy likewise;
 * - name constraints (RFC 5280 §4.2.1.10) of every CA, the trust anchor
 *   included, bind every certificate below it: see `name_constraints.ts`
 *   (`unknown_ca`);
 * - an intermediate or anchor whose keyUsage lacks keyCertSign, or whose
 *   extendedKeyUsage has neither clientAuth nor anyExtendedKeyUsage, cannot
 *   vouch for a client certificate (`bad_key_usage`).
 *
 * Strength (see `signature_strength.ts`), judged before any signature is
 * verified, so a chain that reaches a trusted CA gets the precise code even
 * when the runtime cannot verify the algorithm (MD5, DSA); a weak chain that
 * reaches no trusted CA stays `unknown_ca`:
 * - a SHA-1, MD5, MD4 or MD2 signature on the leaf or an intermediate
 *   (`weak_signature`); the trust anchor's self-signature is not relied on and
 *   is exempt;
 * - an RSA key under 2048 bits, or a DSA key, on any certificate of the chain,
 *   the trust anchor included (`weak_key`), as OpenSSL at security level 2.
 *   A strong issuer that verifies is preferred to a weak one of the same name,
 *   so a strong anchor beside a weak one (a key rollover) still verifies its
 *   own leaves.
 *
 * @example Verifying a presented chain
 * ```ts ignore
 * import { verifyClientChain } from "@mtls/mcp/policy";
 * const r = verifyClientChain(leaf, [], { anchors: [ca], maxChainDepth: 3, now: new Date() });
 * if ("reason" in r) console.log(r.reason);
 * ```
 */
export function verifyClientChain(
  leaf: Certificate,
  intermediates: readonly Certificate[],
  options: VerifyChainOptions,
): ChainResult {
  const usage = checkClientUsage(leaf);
  if (usage) return usage;
  return verifyChainDetailed(leaf, intermediates, options).result;
}

/**
 * {@link verifyClientChain}, also saying whether the chain reached a trusted
 * anchor: a chain that did and was refused for its constraints must not be
 * downgraded to an untrusted peer by the demo policy.
 *
 * @example
 * ```ts ignore
 * const { result, anchored } = verifyChainDetailed(leaf, [], options);
 * ```
 */
export function verifyChainDetailed(
  leaf: Certificate,
  intermediates: readonly Certificate[],
  options: VerifyChainOptions,
): { result: ChainResult; anchored: boolean } {
  const usage = checkClientUsage(leaf);
  if (usage) return { result: usage, anchored: false };
  const chain = buildChain(leaf, intermediates, options);
  if ("reason" in chain) return { result: chain, anchored: false };
  // The CAs' keys were judged while the chain was built; the leaf's is judged here.
  const refused = checkKeyStrength("Certificate", leaf) ?? checkChainConstraints(chain.chain) ??
    checkValidity(chain.chain, options.now);
  return { result: refused ?? chain, anchored: true };
}

const OID_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const OID_NAME_CONSTRAINTS = "2.5.29.30";

/** Extensions whose meaning the checks here honour (RFC 5280 §4.2). */
const PROCESSED_EXTENSIONS = new Set([
  "2.5.29.19", // basicConstraints
  "2.5.29.15", // keyUsage
  "2.5.29.37", // extKeyUsage
  "2.5.29.17", // subjectAltName
  "2.5.29.14", // subjectKeyIdentifier
  "2.5.29.35", // authorityKeyIdentifier
  OID_NAME_CONSTRAINTS, // applied to the chain by name_constraints.ts
  "2.5.29.32", // certificatePolicies: no policy is required of the peer (see verifyClientChain)
]);

const EXTENSION_NAMES: Record<string, string> = {
  "2.5.29.30": "nameConstraints",
  "2.5.29.36": "policyConstraints",
  "2.5.29.33": "policyMappings",
  "2.5.29.54": "inhibitAnyPolicy",
  "2.5.29.18": "issuerAltName",
  "2.5.29.9": "subjectDirectoryAttributes",
  "2.5.29.31": "cRLDistributionPoints",
  "2.5.29.46": "freshestCRL",
  "1.3.6.1.5.5.7.1.1": "authorityInfoAccess",
  "1.3.6.1.5.5.7.1.11": "subjectInfoAccess",
  "1.3.6.1.5.5.7.1.24": "tlsFeature",
  [OID_SERVER_AUTH]: "serverAuth",
  [OID_CLIENT_AUTH]: "clientAuth",
};

function extensionName(id: string): string {
  const name = EXTENSION_NAMES[id];
  return name ? `${name} (${id})` : id;
}

/**
 * The critical-extension rule alone, for one certificate judged without its
 * chain: refuses a critical extension we do not process, and a
 * policyConstraints or nameConstraints extension whether critical or not (a
 * restriction that cannot be enforced here: no policy tree, and name
 * constraints need the certificates below; `checkChainNameConstraints`
 * applies them to a chain, and a caller that does passes
 * `nameConstraintsApplied: true`).
 *
 * @example
 * ```ts ignore
 * checkCriticalExtensions(leaf)?.reason; // "unknown_ca" or undefined
 * ```
 */
export function checkCriticalExtensions(
  cert: Certificate,
  options: { nameConstraintsApplied?: boolean } = {},
): Refusal | undefined {
  const applied = options.nameConstraintsApplied ?? false;
  const name = `"${cert.subject.text}"`;
  const unknown = cert.criticalExtensions.find((id) =>
    !PROCESSED_EXTENSIONS.has(id) || (id === OID_NAME_CONSTRAINTS && !applied)
  );
  if (unknown !== undefined) {
    return {
      reason: "unknown_ca",
      message: `Certificate ${name} has critical extension ${
        extensionName(unknown)
      }, which is not supported`,
    };
  }
  const unenforced = cert.nameConstraints && !applied
    ? OID_NAME_CONSTRAINTS
    : cert.hasPolicyConstraints
    ? "2.5.29.36"
    : undefined;
  if (unenforced) {
    return {
      reason: "unknown_ca",
      message: `Certificate ${name} has ${
        extensionName(unenforced)
      }, which is not supported (a restriction that cannot be enforced)`,
    };
  }
  return undefined;
}

/**
 * The first critical extension of `cert` that we do not process, by name
 * (`policyMappings (2.5.29.33)`), or `undefined`.
 *
 * @example
 * ```ts ignore
 * unprocessedCriticalExtension(readCertificate(der)); // "1.2.3.4" or undefined
 * ```
 */
export function unprocessedCriticalExtension(cert: Certificate): string | undefined {
  const unknown = cert.criticalExtensions.find((id) => !PROCESSED_EXTENSIONS.has(id));
  return unknown === undefined ? undefined : extensionName(unknown);
}

/**
 * Whether `cert`'s keyUsage, when present, lacks keyCertSign (so it cannot
 * vouch for a certificate).
 *
 * @example
 * ```ts ignore
 * if (lacksKeyCertSign(intermediate)) refuse("bad_key_usage");
 * ```
 */
export function lacksKeyCertSign(cert: Certificate): boolean {
  return cert.keyUsage !== undefined && !cert.keyUsage.has(KEY_USAGE.keyCertSign);
}

/**
 * Whether issuer and subject are the same name (RFC 5280 §6.1: self-issued),
 * compared as OpenSSL does (case and spaces folded): such an intermediate
 * does not count against a pathLenConstraint.
 *
 * @example
 * ```ts ignore
 * if (!isSelfIssued(intermediate)) below++;
 * ```
 */
export function isSelfIssued(cert: Certificate): boolean {
  return cert.selfIssued || sameName(cert.subject, cert.issuer);
}

/**
 * RFC 5280 constraints over a built chain (leaf first, trust anchor last):
 * unknown critical extensions and policy constraints on every certificate,
 * then keyCertSign, EKU and pathLenConstraint on every CA, then the name
 * constraints of every CA that has them (the others cost nothing).
 */
function checkChainConstraints(chain: readonly Certificate[]): Refusal | undefined {
  for (const c of chain) {
    const refused = checkCriticalExtensions(c, { nameConstraintsApplied: true });
    if (refused) return refused;
  }
  // Non-self-issued intermediate CAs seen so far, walking up from the leaf.
  let below = 0;
  for (let k = 1; k < chain.length; k++) {
    const c = chain[k];
    const name = `"${c.subject.text}"`;
    const anchor = k === chain.length - 1 ? "trusted CA" : "intermediate CA";
    if (lacksKeyCertSign(c)) {
      return {
        reason: "bad_key_usage",
        message: `${
          anchor[0].toUpperCase() + anchor.slice(1)
        } ${name} key usage does not allow keyCertSign`,
      };
    }
    const eku = c.extendedKeyUsage;
    if (eku && !eku.includes(OID_CLIENT_AUTH) && !eku.includes(OID_ANY_EKU)) {
      return {
        reason: "bad_key_usage",
        message: `${
          anchor[0].toUpperCase() + anchor.slice(1)
        } ${name} extended key usage does not allow clientAuth (has ${
          eku.map(extensionName).join(", ") || "none"
        }), so it cannot vouch for a client certificate`,
      };
    }
    const pathLength = c.basicConstraints?.pathLength;
    if (pathLength !== undefined && pathLength < below) {
      return {
        reason: "unknown_ca",
        message: `Path length constraint exceeded: ${anchor} ${name} has pathLen ${pathLength} ` +
          `but ${below} intermediate CA certificate${below === 1 ? "" : "s"} below it`,
      };
    }
    if (!isSelfIssued(c)) below++;
  }
  return checkChainNameConstraints(chain);
}

/**
 * The name constraints of every CA of a built chain (leaf first) applied to
 * the certificates below it; nothing to do (and no parsing) when no CA has
 * any. Client chains and, in the client, server chains use it alike.
 *
 * @example
 * ```ts ignore
 * checkChainNameConstraints([leaf, intermediate, root])?.reason; // "unknown_ca" or undefined
 * ```
 */
export function checkChainNameConstraints(chain: readonly Certificate[]): Refusal | undefined {
  if (!chain.some((c, k) => k > 0 && c.nameConstraints)) return undefined;
  return checkNameConstraints(chain);
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
export function checkClientUsage(leaf: Certificate): Refusal | undefined {
  const name = `"${leaf.subject.text}"`;
  if (leaf.basicConstraints?.ca) {
    return {
      reason: "bad_key_usage",
      message: `Certificate ${name} is a CA certificate, not a client certificate`,
    };
  }
  const eku = leaf.extendedKeyUsage;
  if (eku && !eku.includes(OID_CLIENT_AUTH) && !eku.includes(OID_ANY_EKU)) {
    return {
      reason: "bad_key_usage",
      message: `Certificate ${name} lacks extended key usage clientAuth (has ${
        eku.join(", ") || "none"
      })`,
    };
  }
  if (leaf.keyUsage && !leaf.keyUsage.has(KEY_USAGE.digitalSignature)) {
    return {
      reason: "bad_key_usage",
      message: `Certificate ${name} key usage does not allow digitalSignature`,
    };
  }
  return undefined;
}

// Signature checks are the largest cost of admitting a client (about 0.5 ms
// for P-256 with `signedBy` on Deno 2.9.6). The
// answer depends only on the two certificates' bytes, so it is remembered,
// keyed by both SHA-256 fingerprints; validity, EKU, pins and revocation are
// still checked on every connection. Bounded: the least recently used goes first.
const SIGNATURE_MEMO_MAX = 10_000;
const signatureMemo = new LruMap<boolean>({ max: SIGNATURE_MEMO_MAX });

function issuedBy(child: Certificate, parent: Certificate): boolean {
  try {
    if (!namesIssuer(child, parent)) return false;
    const key = `${child.fingerprint}>${parent.fingerprint}`;
    const known = signatureMemo.get(key);
    if (known !== undefined) return known;
    const ok = signedBy(child, parent.publicKey);
    signatureMemo.set(key, ok);
    return ok;
  } catch {
    return false;
  }
}

// Key verdicts of the trust anchors, which live as long as the policy: judged once.
const anchorKeys = new WeakMap<Certificate, Refusal | null>();

function anchorKeyStrength(anchor: Certificate): Refusal | undefined {
  let v = anchorKeys.get(anchor);
  if (v === undefined) anchorKeys.set(anchor, v = checkKeyStrength("Trusted CA", anchor) ?? null);
  return v ?? undefined;
}

/** One link of a chain being built: `cur`'s issuer, and why the link is refused if it is weak. */
interface Link {
  issuer: Certificate;
  anchor: boolean;
  weak?: Refusal;
}

/**
 * The certificate that signed `cur`: the trusted CAs are tried first, then
 * the presented intermediates. Strength is judged before any signature is
 * verified. A link is weak when `cur`'s own signature algorithm is, or the
 * issuer's key is; such a link is taken by name alone (MD5 and DSA signatures
 * cannot even be verified here) and only to name the refusal once the chain
 * reaches a trusted CA. A strong link that verifies is always preferred, so a
 * strong anchor of the same name as a weak one (a key rollover) still
 * verifies its own leaves.
 */
function findIssuer(
  cur: Certificate,
  role: string,
  anchors: readonly Certificate[],
  intermediates: readonly Certificate[],
  chain: readonly Certificate[],
): Link | undefined {
  const named = anchors.filter((a) => namesIssuer(cur, a));
  const firstIntermediate = named.length;
  for (const i of intermediates) {
    if (i.basicConstraints?.ca && !chain.includes(i) && namesIssuer(cur, i)) named.push(i);
  }
  if (named.length === 0) return undefined;
  const weakSignature = checkSignatureStrength(role, cur);
  let weakLink: Link | undefined;
  for (let k = 0; k < named.length; k++) {
    const anchor = k < firstIntermediate;
    const weak = weakSignature ??
      (anchor ? anchorKeyStrength(named[k]) : checkKeyStrength("Intermediate CA", named[k]));
    if (weak) weakLink ??= { issuer: named[k], anchor, weak };
    else if (issuedBy(cur, named[k])) return { issuer: named[k], anchor };
  }
  return weakLink;
}

function buildChain(
  leaf: Certificate,
  intermediates: readonly Certificate[],
  { anchors, maxChainDepth }: VerifyChainOptions,
): ChainResult {
  const chain = [leaf];
  // The weakness nearest the leaf, reported only if the chain reaches a trusted
  // CA: a weak chain that leads nowhere is just untrusted (`unknown_ca`).
  let weak: Refusal | undefined;
  for (let cur = leaf;;) {
    const role = cur === leaf ? "Certificate" : "Intermediate CA";
    const link = findIssuer(cur, role, anchors, intermediates, chain);
    if (link?.anchor) {
      chain.push(link.issuer);
      return weak ?? link.weak ?? { chain };
    }
    if (!link) {
      const selfSigned = chain.length === 1 && issuedBy(leaf, leaf);
      return {
        reason: "unknown_ca",
        message: selfSigned
          ? `Certificate "${leaf.subject.text}" is self-signed and not trusted`
          : `Certificate "${cur.subject.text}" was issued by "${cur.issuer.text}", which is not a trusted CA`,
      };
    }
    if (chain.length > maxChainDepth) {
      return {
        reason: "unknown_ca",
        message:
          `Certificate chain of "${leaf.subject.text}" is longer than maxChainDepth ${maxChainDepth}`,
      };
    }
    weak ??= link.weak;
    chain.push(link.issuer);
    cur = link.issuer;
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
export function checkValidity(chain: readonly Certificate[], now: Date): Refusal | undefined {
  const t = now.getTime();
  for (const c of chain) {
    if (t < c.notBefore.getTime()) {
      return {
        reason: "not_yet_valid",
        message: `Certificate "${c.subject.text}" is not valid before ${c.notBefore.toISOString()}`,
      };
    }
    if (t > c.notAfter.getTime()) {
      return {
        reason: "expired",
        message: `Certificate "${c.subject.text}" expired at ${c.notAfter.toISOString()}`,
      };
    }
  }
  return undefined;
}

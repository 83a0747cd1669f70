/**
 * Verification policies (`strict`, `demo`, custom hook), compiled once into a
 * closure the server calls for every connection.
 *
 * @module
 */

import { type Certificate, readCertificates } from "../cert/certificate.ts";
import { namesIssuer } from "../cert/verify_signature.ts";
import { ConfigError, isMtlsError } from "../errors.ts";
import { type PeerIdentity, peerIdentity } from "./identity.ts";
import { VerdictCache } from "./verdict_cache.ts";
import {
  checkClientUsage,
  checkCriticalExtensions,
  checkValidity,
  type Refusal,
  verifyChainDetailed,
} from "./verify_chain.ts";
import { checkKeyStrength, checkSignatureStrength } from "./signature_strength.ts";
import { trustAnchorProblem } from "./trust_anchor.ts";

/**
 * What a custom policy hook sees: the verified chain (leaf first, trusted CA
 * last), the leaf's identity and the peer address.
 *
 * @example
 * ```ts
 * import type { PolicyContext } from "@mtls/mcp/policy";
 * const onlyTeamA = (ctx: PolicyContext) => ctx.identity.spiffeId?.startsWith("spiffe://a/");
 * ```
 */
export interface PolicyContext {
  /**
   * Verified chain, leaf first, as certificates of the model
   * (`@mtls/mcp/cert`). With the demo policy an untrusted chain is just the leaf.
   */
  chain: readonly Certificate[];
  /** Identity of the leaf. */
  identity: PeerIdentity;
  /** Peer address, `host:port`. */
  peer: string;
}

/**
 * A custom policy: the built-in checks of `base` run first, then `verify`,
 * which returns `undefined` to accept or a {@link Refusal}.
 *
 * @example Only SPIFFE identities of one trust domain
 * ```ts
 * import type { CustomPolicy } from "@mtls/mcp/policy";
 * const policy: CustomPolicy = {
 *   verify: ({ identity }) =>
 *     identity.spiffeId?.startsWith("spiffe://example.org/")
 *       ? undefined
 *       : { reason: "identity_denied", message: "Not in trust domain example.org" },
 * };
 * ```
 */
export interface CustomPolicy {
  /** Built-in checks run before the hook. @default {"strict"} */
  base?: "strict" | "demo";
  /** The hook; may be async. Runs once per connection. */
  verify(ctx: PolicyContext): Refusal | undefined | Promise<Refusal | undefined>;
}

/**
 * The `policy` option: a built-in name or a {@link CustomPolicy}.
 *
 * @example
 * ```ts
 * import type { PolicyOption } from "@mtls/mcp/policy";
 * const p: PolicyOption = "strict";
 * ```
 */
export type PolicyOption = "strict" | "demo" | CustomPolicy;

/**
 * Verdict on a presented certificate: accepted (with identity, chain and
 * whether the chain is trusted) or refused.
 *
 * @example
 * ```ts
 * import type { CertificateVerdict } from "@mtls/mcp/policy";
 * const accepted = (v: CertificateVerdict) => !("reason" in v);
 * ```
 */
export type CertificateVerdict =
  | { identity: PeerIdentity; chain: Certificate[]; trusted: boolean }
  | (Refusal & { identity?: PeerIdentity });

/**
 * A compiled policy.
 *
 * @example
 * ```ts ignore
 * const v = policy.checkCertificate(leaf, []);
 * ```
 */
export interface CompiledPolicy {
  /** `strict`, `demo` or `custom`. */
  readonly name: "strict" | "demo" | "custom";
  /** Whether untrusted (self-signed, unknown CA) certificates are accepted. */
  readonly acceptsUntrusted: boolean;
  /** Synchronous certificate checks, run as soon as the handshake completes. */
  checkCertificate(
    leaf: Certificate,
    intermediates: readonly Certificate[],
  ): CertificateVerdict;
  /**
   * {@link CompiledPolicy.checkCertificate} for a connection, with the same
   * verdict as `checkCertificate(leaf, intermediates())`, only faster: an
   * accepted verdict is remembered per leaf certificate (bytes) and the
   * intermediates it was reached with, so the same client reconnecting with
   * the same chain skips the chain checks. A verdict never depends on what
   * earlier connections presented: the same leaf without the intermediates
   * it was admitted with is checked, and refused, afresh. The validity period
   * of the chain is checked again on every call; refusals are never
   * remembered. A new policy (a reload) starts with nothing remembered. A
   * trusted leaf issued directly by a trusted CA is checked, and found again,
   * without reading the intermediates at all (`intermediates` is called at
   * most once, and only when needed). `firstIntermediate`, when given,
   * returns the first certificate the client sent after its leaf, or
   * `undefined` when it cannot tell cheaply: with it, a returning client
   * with one intermediate is found again without reading them all.
   */
  checkPresented(
    leaf: Certificate,
    intermediates: () => readonly Certificate[],
    firstIntermediate?: () => Certificate | undefined,
  ): CertificateVerdict;
  /** The custom hook, when there is one. */
  readonly hook?: CustomPolicy["verify"];
}

/**
 * Options for {@link compilePolicy}.
 *
 * @example
 * ```ts
 * import type { CompilePolicyOptions } from "@mtls/mcp/policy";
 * const o: CompilePolicyOptions = { ca: [], maxChainDepth: 3 };
 * ```
 */
export interface CompilePolicyOptions {
  /** Trusted CA certificates, PEM (several per string allowed). */
  ca: readonly string[];
  /** Most intermediates between a client certificate and a trusted CA. @default {3} */
  maxChainDepth?: number;
  /** Clock. @default {() => new Date()} */
  now?: () => Date;
  /** Accepted verdicts remembered per leaf certificate by `checkPresented`; 0 turns it off. @default {1024} */
  verdictCacheSize?: number;
}

/**
 * Reads every PEM certificate in `pems` into the certificate model.
 *
 * @throws {ConfigError} for a text without a certificate, or a certificate
 * that cannot be read
 *
 * @example
 * ```ts
 * import { parseCaCertificates } from "@mtls/mcp/policy";
 * parseCaCertificates([]); // []
 * ```
 */
export function parseCaCertificates(pems: readonly string[]): Certificate[] {
  const out: Certificate[] = [];
  for (const pem of pems) {
    let certs: Certificate[];
    try {
      certs = readCertificates(pem);
    } catch (cause) {
      throw new ConfigError('Option "tls.ca" holds a certificate that cannot be parsed', {
        key: "tls.ca",
        cause,
      });
    }
    if (certs.length === 0) {
      throw new ConfigError('Option "tls.ca" holds no PEM certificate', { key: "tls.ca" });
    }
    out.push(...certs);
  }
  return out;
}

/**
 * Compiles a policy once: parses the CAs and returns the checks the server
 * runs per connection (no parsing of options, no I/O on that path).
 *
 * @throws {ConfigError} for a CA in `ca` that cannot be a trust anchor: not a
 * CA, no keyCertSign, an unsupported critical extension or policyConstraints,
 * a malformed nameConstraints extension (see `trustAnchorProblem`)
 *
 * @example Compiling the strict policy
 * ```ts
 * import { compilePolicy } from "@mtls/mcp/policy";
 * const policy = compilePolicy("strict", { ca: [] });
 * console.log(policy.name); // "strict"
 * ```
 */
export function compilePolicy(option: PolicyOption, options: CompilePolicyOptions): CompiledPolicy {
  const { maxChainDepth = 3, now = () => new Date(), verdictCacheSize = 1024 } = options;
  if (!Number.isInteger(maxChainDepth) || maxChainDepth < 0 || maxChainDepth > 16) {
    throw new ConfigError(
      `Option "maxChainDepth" must be an integer from 0 to 16, got "${maxChainDepth}"`,
      { key: "maxChainDepth" },
    );
  }
  const anchors = parseCaCertificates(options.ca);
  // Checked when loaded (start and reload), so a CA that could vouch for no
  // client stops the server with one line instead of refusing every client.
  for (const anchor of anchors) {
    const problem = trustAnchorProblem(anchor);
    if (problem) throw new ConfigError(`Option "tls.ca" holds ${problem}`, { key: "tls.ca" });
  }
  const custom = typeof option === "object" ? option : undefined;
  if (custom && typeof custom.verify !== "function") {
    throw new ConfigError('Option "policy.verify" must be a function', { key: "policy.verify" });
  }
  if (typeof option === "string" && option !== "strict" && option !== "demo") {
    throw new ConfigError(
      `Option "policy" must be "strict", "demo" or an object, got "${option}"`,
      {
        key: "policy",
      },
    );
  }
  const base = custom ? custom.base ?? "strict" : option as "strict" | "demo";
  const acceptsUntrusted = base === "demo";
  const cache = verdictCacheSize > 0 ? new VerdictCache(verdictCacheSize) : undefined;
  const policy: CompiledPolicy = {
    name: custom ? "custom" : base,
    acceptsUntrusted,
    hook: custom?.verify,
    checkPresented(leaf, intermediates, firstIntermediate) {
      let read: readonly Certificate[] | undefined;
      const presented = () => (read ??= intermediates());
      const hit = cache?.get(leaf, now().getTime(), presented, firstIntermediate);
      if (hit) return hit;
      // A leaf issued straight by a trusted CA needs no intermediates: try that
      // first, because reading what the client sent costs more than the check.
      // Only a trusted acceptance is final there (no intermediate can change
      // it); anything else is decided with what the client presented.
      let v: CertificateVerdict | undefined;
      if (anchors.some((a) => namesIssuer(leaf, a))) {
        v = policy.checkCertificate(leaf, []);
        if ("reason" in v || !v.trusted) v = undefined;
      }
      v ??= policy.checkCertificate(leaf, presented());
      if (cache && !("reason" in v)) cache.set(leaf, v, read);
      return v;
    },
    checkCertificate(leaf, intermediates) {
      const at = now();
      let identity: PeerIdentity;
      try {
        identity = peerIdentity(leaf);
      } catch (cause) {
        // An ambiguous identity (two CNs, two SPIFFE IDs) is refused by every policy.
        if (isMtlsError(cause, "ambiguous_identity")) {
          return { reason: "ambiguous_identity", message: cause.message };
        }
        return { reason: "bad_key_usage", message: `Unreadable client certificate: ${cause}` };
      }
      const { result: r, anchored } = verifyChainDetailed(leaf, intermediates, {
        anchors,
        maxChainDepth,
        now: at,
      });
      if (!("reason" in r)) return { identity, chain: r.chain, trusted: true };
      // A chain that reached a trusted CA but broke its constraints (pathLen,
      // critical extensions, CA usage) is refused even by demo: it is not
      // merely an unknown CA. Demo accepts only untrusted leaves that are
      // themselves sound client certificates.
      if (!acceptsUntrusted || r.reason !== "unknown_ca" || anchored) return { ...r, identity };
      // An untrusted leaf's key still proves who connects (pins, TOFU), so it
      // must be as strong as a trusted one's; its signature, likewise.
      const usage = checkClientUsage(leaf) ?? checkCriticalExtensions(leaf) ??
        checkSignatureStrength("Certificate", leaf) ?? checkKeyStrength("Certificate", leaf) ??
        checkValidity([leaf], at);
      if (usage) return { ...usage, identity };
      return { identity, chain: [leaf], trusted: false };
    },
  };
  return policy;
}

/**
 * What happens to a connection once its TLS handshake completes: the client
 * certificate is read, verified by the compiled policy, then passed through
 * the further admission steps (pins, revocation). Compiled once per listener.
 *
 * @module
 */

import type { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { type Certificate, readCertificate } from "../../cert/certificate.ts";
import type { Logger } from "../../log/logger.ts";
import type { PeerIdentity } from "../../policy/identity.ts";
import type { CompiledPolicy } from "../../policy/policy.ts";
import type { Refusal } from "../../policy/verify_chain.ts";
import type { ListenMtlsOptions } from "./listener.ts";
import type { ResolvedTlsServerOptions } from "./options.ts";

/**
 * What the server knows about one connection, computed once after the handshake.
 *
 * @example
 * ```ts
 * import type { PeerState } from "@mtls/mcp/tls";
 * const label = (s: PeerState) => s.identity?.commonName ?? "anonymous";
 * ```
 */
export interface PeerState {
  /** Peer address, `host:port`. */
  peer: string;
  /** Identity from the client certificate; `undefined` for an anonymous peer. */
  identity?: PeerIdentity;
  /** Whether the certificate chains to a configured CA (false under the demo policy for untrusted ones). */
  trusted: boolean;
  /** The custom policy hook's verdict (resolves `undefined` when accepted or when there is no hook). */
  verdict: Promise<Refusal | undefined>;
  /** Set once the hook refusal has been logged, so it is logged once per connection. */
  refusalLogged: boolean;
}

const NO_HOOK: Promise<undefined> = Promise.resolve(undefined);

/** What a connection's client presented first, read once: the model's leaf and the runtime's object. */
interface PeerLeaf {
  cert: Certificate;
  x509: X509Certificate;
}

const LEAVES = new WeakMap<TLSSocket, PeerLeaf | null>();

/** The client certificate of `s` (see {@link peerLeaf}), with the runtime's object it came from. */
function presented(s: TLSSocket): PeerLeaf | undefined {
  let leaf = LEAVES.get(s);
  if (leaf === undefined) {
    const x509 = s.getPeerX509Certificate();
    // The TLS boundary: node:crypto's object is read into the model at once.
    leaf = x509 ? { x509, cert: readCertificate(x509.raw) } : null;
    LEAVES.set(s, leaf);
  }
  return leaf ?? undefined;
}

/**
 * The client certificate of `s`, read into the certificate model once per
 * connection: the identity gate and admission both read it, and each
 * `getPeerX509Certificate()` call parses the DER again (measured with
 * `BENCH_TESTS=memory deno run -A bench/mcp.ts ours`: 78.3 KiB per idle
 * connection with two parses, 72.9 with one). A certificate seen before is
 * found by its SHA-256, not parsed again.
 *
 * @throws {CertificateError} `invalid_der` when the model cannot read it
 *
 * @example
 * ```ts ignore
 * const leaf = peerLeaf(tlsSocket);
 * ```
 */
export function peerLeaf(s: TLSSocket): Certificate | undefined {
  return presented(s)?.cert;
}

/**
 * The intermediates a client sent after its certificate `leaf`, read
 * into the model; one the model cannot read is left out (the chain is then
 * built without it, and refused as `unknown_ca` if it needed it). Costs about
 * 0.14 ms (Deno builds the whole legacy chain object), so admission asks for
 * them only when the verdict can depend on them: not for a returning client
 * whose leaf a trusted CA issued directly.
 *
 * @example
 * ```ts ignore
 * const intermediates = presentedIntermediates(tlsSocket, peerLeaf(tlsSocket)!);
 * ```
 */
export function presentedIntermediates(s: TLSSocket, leaf: Certificate): Certificate[] {
  const intermediates: Certificate[] = [];
  const seen = new Set<string>([leaf.fingerprint]);
  type Detailed = { raw?: Uint8Array; issuerCertificate?: Detailed };
  let cur = (s.getPeerCertificate(true) as Detailed | undefined)?.issuerCertificate;
  while (cur?.raw && intermediates.length < 16) {
    let c: Certificate;
    try {
      c = readCertificate(cur.raw);
    } catch {
      cur = cur.issuerCertificate;
      continue;
    }
    if (seen.has(c.fingerprint)) break;
    seen.add(c.fingerprint);
    intermediates.push(c);
    cur = cur.issuerCertificate;
  }
  return intermediates;
}

/**
 * The first certificate the client of `s` sent after its certificate, read
 * into the model, or `undefined` when it sent none, the runtime does not say
 * or the model cannot read it. Costs a few µs where reading them all costs
 * about 0.14 ms. Measured on Deno 2.9.6 and Node 20: `issuerCertificate` of
 * the peer's leaf (`getPeerX509Certificate()`) is the next certificate it
 * sent, whether or not that one issued the leaf (Node walks on through the
 * rest, Deno stops after one); tests/server/verdict_cache_test.ts holds the
 * runtime to that.
 *
 * @example
 * ```ts ignore
 * const first = firstPresentedIntermediate(tlsSocket);
 * ```
 */
export function firstPresentedIntermediate(s: TLSSocket): Certificate | undefined {
  try {
    const next = presented(s)?.x509.issuerCertificate;
    return next ? readCertificate(next.raw) : undefined;
  } catch {
    return undefined; // the policy then reads them all
  }
}

/** Settings of {@link compileAdmit}. */
export interface CompileAdmitOptions {
  /** Validated TLS settings (client auth mode). */
  tls: ResolvedTlsServerOptions;
  /** Compiled verification policy. */
  policy: CompiledPolicy;
  /** Steps after the policy. */
  admission?: ListenMtlsOptions["admission"];
  /** Logger for warnings about weaker settings taking effect. */
  logger: Logger;
  /** Logs one refusal. */
  refuse(peer: string, reason: string, detail: string): void;
}

/**
 * Compiles the post-handshake admission of a connection: returns its state
 * when admitted, `undefined` when refused (logged once), or a promise of
 * either when a step (revocation) needs the network.
 *
 * @example
 * ```ts ignore
 * const admit = compileAdmit({ tls, policy, admission, logger, refuse });
 * const verdict = admit(tlsSocket, "127.0.0.1:50000");
 * ```
 */
export function compileAdmit(
  o: CompileAdmitOptions,
): (s: TLSSocket, peer: string) => PeerState | Promise<PeerState | undefined> | undefined {
  const { tls, policy, admission, logger, refuse } = o;
  return (s, peer) => {
    const anonymous = () => {
      // A weaker-than-default setting logs every time it takes effect.
      logger.warn("admitting a client WITHOUT a certificate", { peer, clientAuth: tls.clientAuth });
      return { peer, trusted: false, verdict: NO_HOOK, refusalLogged: false };
    };
    if (tls.clientAuth === "none") return anonymous();
    let leaf, v;
    try {
      leaf = peerLeaf(s);
      // Reading the intermediates may throw too; the policy asks only when it needs them.
      v = leaf &&
        policy.checkPresented(
          leaf,
          () => presentedIntermediates(s, leaf!),
          () => firstPresentedIntermediate(s),
        );
    } catch (cause) {
      refuse(peer, "bad_key_usage", `Unreadable client certificate: ${cause}`);
      return undefined;
    }
    if (!leaf || !v) {
      // Never trust `s.authorized` alone here: older Deno reported true without a certificate.
      if (tls.clientAuth === "require") {
        refuse(peer, "no_client_cert", "Client presented no certificate");
        return undefined;
      }
      return anonymous();
    }
    if ("reason" in v) {
      refuse(peer, v.reason, v.message);
      return undefined;
    }
    if (!v.trusted) {
      logger.warn("DEMO POLICY: admitting an UNVERIFIED client certificate", {
        peer,
        subject: v.identity.subject,
        fingerprint: v.identity.fingerprint,
      });
    }
    const hook = policy.hook;
    const state = (): PeerState => ({
      peer,
      identity: v.identity,
      trusted: v.trusted,
      verdict: hook
        ? Promise.resolve()
          .then(() => hook({ chain: v.chain, identity: v.identity, peer }))
          .catch((cause): Refusal => ({
            reason: "identity_denied",
            message: `Policy hook failed: ${cause}`,
          }))
        : NO_HOOK,
      refusalLogged: false,
    });
    let more: ReturnType<NonNullable<typeof admission>["check"]>;
    try {
      more = admission?.check({ peer, identity: v.identity, chain: v.chain });
    } catch (cause) {
      more = { reason: "revocation_unknown", message: `Admission check failed: ${cause}` };
    }
    if (more instanceof Promise) {
      return more.catch((cause): Refusal => ({
        reason: "revocation_unknown",
        message: `Admission check failed: ${cause}`,
      })).then((refusal) => {
        if (!refusal) return state();
        refuse(peer, refusal.reason, refusal.message);
        return undefined;
      });
    }
    if (more) {
      refuse(peer, more.reason, more.message);
      return undefined;
    }
    return state();
  };
}

/**
 * What the listener trusts now, and what happens when that changes. New TLS
 * material (a reload) installs a new secure context for new handshakes and
 * recompiles admission. Admission happens once per connection, so when trust
 * changes (new CAs on a reload, a changed CRL) the open connections are
 * admitted again: the chain policy, then pins and revocation. Those now
 * refused are logged and closed; the rest keep working without a new
 * handshake.
 *
 * @module
 */

import type { SecureContextOptions, TLSSocket } from "node:tls";
import type { Logger } from "../../log/logger.ts";
import type { ReasonCode } from "../../errors.ts";
import type { CompiledPolicy } from "../../policy/policy.ts";
import { compileAdmit, peerLeaf, type PeerState, presentedIntermediates } from "./admit.ts";
import type { ConnectionTable } from "./connection.ts";
import type { ListenMtlsOptions } from "./listener.ts";
import type { ResolvedTlsServerOptions } from "./options.ts";

/**
 * What {@link createTrust} needs from the listener.
 *
 * @example
 * ```ts ignore
 * const trust = createTrust({ tls, policy, admission, logger, refuse, connections, setSecureContext });
 * ```
 */
export interface TrustParts {
  /** The TLS settings the listener starts with. */
  tls: ResolvedTlsServerOptions;
  /** The chain policy it starts with. */
  policy: CompiledPolicy;
  /** Steps after the chain policy (pins, revocation). */
  admission?: ListenMtlsOptions["admission"];
  /** Logger. */
  logger: Logger;
  /** Logs and counts one refusal. */
  refuse(peer: string, reason: string, detail: string): void;
  /** The open connections. */
  connections: ConnectionTable;
  /** Installs the secure context for new handshakes (`tls.Server.setSecureContext`). */
  setSecureContext(context: SecureContextOptions): void;
}

/**
 * The listener's current trust.
 *
 * @example
 * ```ts ignore
 * const verdict = trust.admit(tlsSocket, peer);
 * trust.update(newTls, newPolicy);
 * ```
 */
export interface Trust {
  /** Admits a connection whose handshake completed, with the current trust (see `compileAdmit`). */
  admit(s: TLSSocket, peer: string): PeerState | Promise<PeerState | undefined> | undefined;
  /** New material and policy for new connections; open ones are admitted again. */
  update(tls: ResolvedTlsServerOptions, policy: CompiledPolicy): void;
  /** Admits the open connections again (after a CRL change); `why` starts each refusal's detail. */
  recheck(why: string): void;
}

/**
 * Makes the listener's trust from its starting TLS settings and policy.
 *
 * @example
 * ```ts ignore
 * const trust = createTrust(parts);
 * admission?.onChange?.(() => trust.recheck("After a CRL update"));
 * ```
 */
export function createTrust(parts: TrustParts): Trust {
  const { admission, logger, refuse, connections } = parts;
  let admit = compileAdmit({ tls: parts.tls, policy: parts.policy, admission, logger, refuse });
  let currentPolicy = parts.policy;

  function recheck(why: string) {
    for (const c of connections.admitted()) {
      const s = c.tls!;
      const state = c.state;
      if (!state?.identity) continue; // anonymous, or admission still pending
      const close = (r: { reason: ReasonCode; message: string }) => {
        if (s.destroyed) return;
        refuse(state.peer, r.reason, `${why}: ${r.message}`);
        s.destroy();
      };
      let v;
      try {
        const leaf = peerLeaf(s);
        v = leaf
          ? currentPolicy.checkPresented(leaf, () => presentedIntermediates(s, leaf))
          : undefined;
      } catch (cause) {
        close({ reason: "bad_key_usage", message: `Unreadable client certificate: ${cause}` });
        continue;
      }
      if (!v) continue;
      if ("reason" in v) {
        close(v);
        continue;
      }
      const more = admission?.check({ peer: state.peer, identity: v.identity, chain: v.chain });
      if (more instanceof Promise) void more.then((r) => r && close(r), () => {});
      else if (more) close(more);
    }
  }

  return {
    admit: (s, peer) => admit(s, peer),
    update(tls, policy) {
      const { cert, key, ca, minVersion, maxVersion, ciphers, honorCipherOrder } = tls.nodeOptions;
      parts.setSecureContext({ cert, key, ca, minVersion, maxVersion, ciphers, honorCipherOrder });
      admit = compileAdmit({ tls, policy, admission, logger, refuse });
      currentPolicy = policy;
      recheck("After a TLS reload");
    },
    recheck,
  };
}

/**
 * The admission steps that run after the chain policy has accepted a client
 * certificate: pins (synchronous) and revocation (cache first, network only
 * when nothing fresh is cached). Built once from the server options; the
 * per-connection closure does no file I/O and, with a warm cache, no network.
 *
 * @module
 */

import type { Certificate } from "../../cert/certificate.ts";
import { ConfigError, isMtlsError } from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";
import { compilePinSet, type PinMatcher, pinMismatchError } from "../../pins/pin_set.ts";
import { PinStore } from "../../pins/pin_store.ts";
import { identityLabel, type PeerIdentity } from "../../policy/identity.ts";
import type { Refusal } from "../../policy/verify_chain.ts";
import { createRevocationChecker } from "../../revocation/checker.ts";
import type { RevocationChecker } from "../../revocation/checker_options.ts";
import type { RevocationVerdict } from "../../revocation/types.ts";
import {
  isRevocationChecker,
  type ServerPinOptions,
  type ServerRevocationOptions,
} from "./admission_options.ts";

export {
  isRevocationChecker,
  type ServerPinOptions,
  type ServerRevocationOptions,
  validateAdmissionOptions,
} from "./admission_options.ts";

/** What an admission step sees about a connection whose chain the policy accepted. */
export interface AdmissionContext {
  /** Peer address, `host:port`. */
  peer: string;
  /** Identity from the client certificate. */
  identity: PeerIdentity;
  /**
   * The chain the policy built, leaf first, as certificates of the model
   * (`@mtls/mcp/cert`); just the leaf when untrusted (demo policy).
   */
  chain: readonly Certificate[];
}

/**
 * The compiled admission steps.
 *
 * @example
 * ```ts ignore
 * const admission = await createServerAdmission({ pins, revocation, ca, logger });
 * const verdict = admission?.check({ peer, identity, chain });
 * ```
 */
export interface ServerAdmission {
  /** A refusal, `undefined` to admit, or a promise of either when revocation needs the network. */
  check(ctx: AdmissionContext): Refusal | undefined | Promise<Refusal | undefined>;
  /** Stops what was started here (the CRL refresh timer of a checker made from options). */
  close(): void;
  /**
   * Calls `listener` when a CRL made from the options changed, so open
   * connections can be checked again. (A checker passed in ready-made has its
   * own `onCrlChange` option instead.)
   */
  onChange(listener: () => void): void;
}

/** One pair to check: a certificate and its issuer, as DER. */
type Pair = readonly [Uint8Array, Uint8Array];

/**
 * The (certificate, issuer) DER pairs to check. A model certificate keeps one
 * DER buffer, so the trusted CAs at the end of every verified chain hand the
 * same bytes each time and per-bytes caches of parsed certificates keep
 * hitting for issuers.
 */
function pairsOf(chain: readonly Certificate[], intermediates: boolean): Pair[] {
  const last = intermediates ? chain.length - 1 : Math.min(1, chain.length - 1);
  const out: Pair[] = [];
  for (let n = 0; n < last; n++) out.push([chain[n].der, chain[n + 1].der]);
  return out;
}

function toRefusal(err: unknown): Refusal {
  if (isMtlsError(err, "revoked")) return { reason: "revoked", message: err.message };
  return {
    reason: "revocation_unknown",
    message: isMtlsError(err, "revocation_unknown")
      ? err.message
      : `Revocation check failed: ${(err as Error)?.message ?? err}`,
  };
}

function compileRevocation(
  checker: RevocationChecker,
  intermediates: boolean,
): (ctx: AdmissionContext) => Refusal | undefined | Promise<Refusal | undefined> {
  const slow = async (pairs: Pair[], from: number, peer: string) => {
    try {
      for (let n = from; n < pairs.length; n++) {
        await checker.verify(pairs[n][0], pairs[n][1], { peer });
      }
      return undefined;
    } catch (err) {
      return toRefusal(err);
    }
  };
  return ({ peer, chain }) => {
    if (chain.length < 2) {
      // Untrusted (demo policy): no issuer to ask about; the failure mode decides.
      const v: RevocationVerdict = {
        status: "unknown",
        source: "none",
        serial: chain[0]?.serialNumber.toLowerCase() ?? "",
        detail: "the certificate does not chain to a configured CA, so no issuer can vouch for it",
      };
      try {
        checker.enforce(v, { peer });
        return undefined;
      } catch (err) {
        return toRefusal(err);
      }
    }
    const pairs = pairsOf(chain, intermediates);
    for (let n = 0; n < pairs.length; n++) {
      let cached: RevocationVerdict | undefined;
      try {
        cached = checker.checkCached(pairs[n][0], pairs[n][1]);
        if (cached === undefined) return slow(pairs, n, peer);
        checker.enforce(cached, { peer }); // logs a soft-fail admission itself, once
      } catch (err) {
        return toRefusal(err);
      }
    }
    return undefined;
  };
}

async function openStore(pins: ServerPinOptions, logger: Logger): Promise<PinStore | undefined> {
  if (pins.store === undefined || pins.store instanceof PinStore) return pins.store;
  try {
    return await PinStore.open(pins.store, { tofu: pins.tofu, unknown: pins.unknown, logger });
  } catch (cause) {
    throw new ConfigError(`Option "pins.store": ${(cause as Error).message}`, {
      key: "pins.store",
      cause,
    });
  }
}

/**
 * Builds the admission steps from validated options: opens a pin file, makes
 * (or adopts) the revocation checker and waits until its CRLs have loaded once,
 * so the first connections already meet a warm cache. Resolves `undefined`
 * when there is nothing to check.
 *
 * @example Pins and a CRL
 * ```ts ignore
 * const admission = await createServerAdmission({
 *   pins: { store: "certs/pins.json" },
 *   revocation: { crls: ["certs/ca.crl"] },
 *   ca: [caPem],
 *   logger,
 * });
 * ```
 */
export async function createServerAdmission(o: {
  pins?: ServerPinOptions;
  revocation?: ServerRevocationOptions | RevocationChecker;
  ca: readonly string[];
  logger: Logger;
}): Promise<ServerAdmission | undefined> {
  const { pins, revocation, logger } = o;
  if (!pins && !revocation) return undefined;
  const allow: PinMatcher | undefined = pins?.allow ? compilePinSet(pins.allow) : undefined;
  const allowList = pins?.allow ?? [];
  const store = pins ? await openStore(pins, logger) : undefined;
  let checker: RevocationChecker | undefined;
  let owned = false;
  const listeners: (() => void)[] = [];
  let intermediates = false;
  if (isRevocationChecker(revocation)) checker = revocation;
  else if (revocation) {
    const { checkIntermediates = false, ...rest } = revocation;
    intermediates = checkIntermediates;
    const userHook = rest.onCrlChange;
    checker = createRevocationChecker({
      logger,
      issuers: [...o.ca],
      ...rest,
      onCrlChange: () => {
        userHook?.();
        for (const l of listeners) l();
      },
    });
    owned = true;
  }
  try {
    await checker?.ready;
  } catch { /* the checker logs load failures and answers "unknown" */ }
  const revoked = checker ? compileRevocation(checker, intermediates) : undefined;
  if (store) {
    logger.info("client pins enforced", {
      pinFile: store.path ?? "(memory)",
      identities: store.names().length,
    });
  }
  if (allow) logger.info("client pin allowlist enforced", { pins: allowList.length });
  if (checker) {
    const s = checker.state();
    logger.info("client certificate revocation enforced", {
      mode: s.mode,
      failureMode: s.failureMode,
      crls: s.crls.map((c) => c.location),
      checkIntermediates: intermediates,
    });
  }
  return {
    check(ctx) {
      const leaf = ctx.chain[0].der;
      if (allow && !allow(leaf)) {
        const e = pinMismatchError("the pin allowlist", leaf, allowList, ctx.peer);
        return { reason: "pin_mismatch", message: e.message };
      }
      const refused = store?.check(identityLabel(ctx.identity), leaf, { peer: ctx.peer });
      if (refused) return { reason: "pin_mismatch", message: refused.message };
      return revoked?.(ctx);
    },
    close() {
      if (owned) checker?.close();
    },
    onChange(listener) {
      listeners.push(listener);
    },
  };
}

/**
 * Hot reload of the server's TLS material: the certificate, its key and the
 * trusted client CAs. New material is validated completely before anything is
 * swapped (a failed reload keeps the last good state), then installed with
 * `setSecureContext` and a recompiled chain policy. Established connections
 * keep the context they were made with.
 *
 * @module
 */

import type { Certificate } from "../cert/certificate.ts";
import { CertificateError, ConfigError, isMtlsError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { ServerMetrics } from "../log/metrics.ts";
import { oneLineSubject, trackCertificates, warnExpiring } from "../log/tls_events.ts";
import { parseCertificates } from "../pki/parse_certificates.ts";
import { importPrivateKey } from "../pki/private_key.ts";
import { privateKeyMatchesCertificate } from "../pki/key_matches.ts";
import {
  type CompiledPolicy,
  compilePolicy,
  parseCaCertificates,
  type PolicyOption,
} from "../policy/policy.ts";
import type { MtlsListener } from "../tls/server/listener.ts";
import {
  type ResolvedTlsServerOptions,
  resolveTlsServerOptions,
  type TlsServerOptions,
} from "../tls/server/options.ts";

/**
 * New TLS material for `reloadTls`; a field left out keeps its current value.
 *
 * @example Using TlsMaterial
 * ```ts
 * import type { TlsMaterial } from "@mtls/mcp/mcp";
 * const m: TlsMaterial = { cert: "-----BEGIN CERTIFICATE-----…", key: "-----BEGIN PRIVATE KEY-----…" };
 * ```
 */
export interface TlsMaterial {
  /** Server certificate chain, PEM. */
  cert?: string;
  /** Server private key, PEM; must match `cert`. */
  key?: string;
  /** CA certificate(s) trusted for client certificates, PEM. */
  ca?: string | string[];
}

/**
 * Material that passed every check, ready to install.
 *
 * @example Installing it
 * ```ts ignore
 * const v = await validateTlsMaterial(options, { policy: "strict" });
 * listener.update(v.resolved, v.policy);
 * ```
 */
export interface ValidatedTls {
  options: TlsServerOptions;
  resolved: ResolvedTlsServerOptions;
  policy: CompiledPolicy;
  served: Certificate[];
  cas: Certificate[];
}

/**
 * Settings of {@link validateTlsMaterial}: what the chain policy is compiled with.
 *
 * @example The strict policy
 * ```ts
 * import type { TlsValidationContext } from "./server_reload.ts";
 * const ctx: TlsValidationContext = { policy: "strict", maxChainDepth: 3 };
 * ```
 */
export interface TlsValidationContext {
  policy: PolicyOption;
  maxChainDepth?: number;
  now?: () => Date;
}

/**
 * Validates complete TLS options: PEM shape, the certificate parses, the key
 * imports and matches the certificate, the CAs parse.
 *
 * @throws {ConfigError} for options of the wrong shape or CAs that do not parse
 * @throws {CertificateError} `invalid_pem`/`invalid_key` for unreadable material, `key_mismatch`
 *
 * @example Using validateTlsMaterial
 * ```ts ignore
 * const v = await validateTlsMaterial({ cert, key, ca }, { policy: "strict" });
 * ```
 */
export async function validateTlsMaterial(
  options: TlsServerOptions,
  ctx: TlsValidationContext,
): Promise<ValidatedTls> {
  const resolved = resolveTlsServerOptions(options);
  const served = parseCertificates(options.cert, { source: "tls.cert" });
  const { privateKey } = await importPrivateKey(options.key, { source: "tls.key" });
  if (!(await privateKeyMatchesCertificate(served[0], privateKey))) {
    throw new CertificateError(
      "key_mismatch",
      `The private key in "tls.key" does not belong to the certificate "${
        oneLineSubject(served[0].subject.text)
      }" in "tls.cert"`,
    );
  }
  const policy = compilePolicy(ctx.policy, {
    ca: resolved.ca,
    maxChainDepth: ctx.maxChainDepth,
    now: ctx.now,
  });
  const cas = parseCaCertificates(resolved.ca);
  return { options, resolved, policy, served: served.slice(0, 1), cas };
}

/**
 * Settings of {@link createTlsReloader}.
 *
 * @example Using TlsReloaderOptions
 * ```ts ignore
 * const reload = createTlsReloader({ current: options.tls, context, listener, metrics, logger, now, expiryWarningDays: 30 });
 * ```
 */
export interface TlsReloaderOptions {
  /** The options the server started with. */
  current: TlsServerOptions;
  /** How the chain policy is compiled. */
  context: TlsValidationContext;
  /** The listener to update. */
  listener: Pick<MtlsListener, "update">;
  /** Counters (reloads, tracked certificates). */
  metrics: ServerMetrics;
  /** Where the outcome is logged. */
  logger: Logger;
  /** Clock. */
  now: () => Date;
  /** Warn about new material this close to expiry. */
  expiryWarningDays: number;
  /** Revocation is checked with CRL issuers fixed at start: a CA change says so. @default {false} */
  revocationIssuersFixed?: boolean;
}

/**
 * Makes `reloadTls`: reloads run one at a time, in call order.
 *
 * @example Using createTlsReloader
 * ```ts ignore
 * await reload({ cert: newCert, key: newKey });
 * ```
 */
export function createTlsReloader(
  o: TlsReloaderOptions,
): (material: TlsMaterial) => Promise<void> {
  let current = o.current;
  let queue: Promise<unknown> = Promise.resolve();
  const once = async (material: TlsMaterial) => {
    const next: TlsServerOptions = { ...current };
    if (material.cert !== undefined) next.cert = material.cert;
    if (material.key !== undefined) next.key = material.key;
    if (material.ca !== undefined) next.ca = material.ca;
    let v: ValidatedTls;
    try {
      v = await validateTlsMaterial(next, o.context);
      o.listener.update(v.resolved, v.policy);
    } catch (cause) {
      o.metrics.reload(false);
      const err = isMtlsError(cause) ? cause : new ConfigError(
        `Cannot install the new TLS material: ${(cause as Error)?.message ?? cause}`,
        { key: "tls", cause },
      );
      o.logger.error("TLS reload refused; the previous certificate keeps serving", {
        code: err.code,
        error: err.message,
      });
      throw err;
    }
    current = next;
    o.metrics.reload(true);
    const tracked = trackCertificates(v.served.slice(0, 1), v.cas);
    o.metrics.setCertificates(tracked);
    o.logger.info("TLS material reloaded", {
      certificates: tracked.map((c) => ({
        role: c.role,
        subject: c.subject,
        fingerprint: c.fingerprint,
        notAfter: c.validTo.toISOString(),
      })),
    });
    if (material.ca !== undefined && o.revocationIssuersFixed) {
      o.logger.warn(
        "Trusted CAs reloaded, but CRLs are still verified against the CAs the server started with; restart to check CRLs of a new CA",
      );
    }
    warnExpiring(tracked, o.expiryWarningDays, o.now(), o.logger);
  };
  return (material) => {
    const run = queue.then(() => once(material));
    queue = run.catch(() => {});
    return run;
  };
}

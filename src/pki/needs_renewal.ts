/**
 * When to renew a certificate.
 *
 * @module
 */
import { CertificateError } from "../errors.ts";
import { type CertificateInput, toCertificate } from "./parse_certificates.ts";

/**
 * Options for {@link needsRenewal}.
 *
 * @example Renewing at half of the lifetime
 * ```ts
 * import type { NeedsRenewalOptions } from "@mtls/mcp/pki";
 * const o: NeedsRenewalOptions = { fraction: 0.5, now: new Date() };
 * ```
 */
export interface NeedsRenewalOptions {
  /** The clock. @default {new Date()} */
  now?: Date;
  /** Share of the lifetime after which to renew, above 0 and at most 1. @default {2/3} */
  fraction?: number;
}

/**
 * Whether `cert` should be renewed: `fraction` of its lifetime (notBefore to
 * notAfter) has elapsed, or it has expired.
 *
 * @param cert read into the model, PEM or DER
 * @param options clock and threshold
 * @returns `true` when it is time to renew
 * @throws {CertificateError} `invalid_argument` for a fraction outside (0, 1]
 *
 * @example Checking a fresh certificate
 * ```ts
 * import { createRootCa, issueCertificate, needsRenewal } from "@mtls/mcp/pki";
 * const ca = await createRootCa();
 * const server = await issueCertificate(ca, "server", { days: 90 });
 * console.log(needsRenewal(server.certificate)); // false
 * const later = new Date(Date.now() + 61 * 86_400_000);
 * console.log(needsRenewal(server.certificate, { now: later })); // true
 * ```
 */
export function needsRenewal(cert: CertificateInput, options: NeedsRenewalOptions = {}): boolean {
  const { now = new Date(), fraction = 2 / 3 } = options;
  if (!(fraction > 0 && fraction <= 1)) {
    throw new CertificateError(
      "invalid_argument",
      `Invalid renewal fraction "${fraction}": expected a number above 0 and at most 1`,
    );
  }
  const { notBefore, notAfter } = toCertificate(cert);
  const lifetime = notAfter.getTime() - notBefore.getTime();
  return now.getTime() >= notBefore.getTime() + fraction * lifetime;
}

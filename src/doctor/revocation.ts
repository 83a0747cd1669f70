/**
 * The revocation step of a diagnosis: asks the CRLs and OCSP responder the
 * server certificate names (and any `--crl` files) through the project's
 * revocation checker, once, with no cache kept.
 *
 * @module
 */
import { readCertificate } from "../cert/certificate.ts";
import { silentLogger } from "../log/logger.ts";
import { createRevocationChecker } from "../revocation/checker.ts";
import type { DiagnosisStep } from "./report.ts";

/**
 * Inputs of {@link revocationStep}.
 *
 * @example
 * ```ts
 * import type { RevocationInput } from "./revocation.ts";
 * const input: Omit<RevocationInput, "leaf"> = { crls: ["certs/ca.crl"], timeout: 3000 };
 * ```
 */
export interface RevocationInput {
  /** The server leaf, DER. */
  leaf: Uint8Array;
  /** The certificate that signed it, DER; unknown when the chain check failed. */
  issuer?: Uint8Array;
  /** CRL files or URLs given with `--crl`. */
  crls: string[];
  /** Milliseconds per CRL or OCSP fetch. */
  timeout: number;
}

/**
 * Checks the server certificate's revocation status when it names a CRL
 * distribution point or an OCSP responder, or when CRLs are given; skips
 * (saying why) otherwise.
 *
 * @example A certificate with no revocation information
 * ```ts
 * import { createRootCa, issueCertificate } from "../pki/mod.ts";
 * import { revocationStep } from "./revocation.ts";
 * const ca = await createRootCa();
 * const server = await issueCertificate(ca, "server");
 * const step = await revocationStep({
 *   leaf: server.certificate.der,
 *   issuer: ca.certificate.der,
 *   crls: [],
 *   timeout: 3000,
 * });
 * console.log(step.status); // "skip"
 * ```
 */
export async function revocationStep(input: RevocationInput): Promise<DiagnosisStep> {
  const name = "Revocation";
  const cert = readCertificate(input.leaf);
  const sources = [...cert.crlUrls, ...cert.ocspUrls, ...input.crls];
  if (sources.length === 0) {
    return {
      name,
      status: "skip",
      summary: "skipped: the server certificate names no CRL or OCSP responder and no --crl given",
    };
  }
  if (!input.issuer) {
    return {
      name,
      status: "skip",
      summary: "skipped: the issuer of the server certificate was not found (see Chain)",
    };
  }
  const ocsp = cert.ocspUrls.length > 0;
  const checker = createRevocationChecker({
    crls: input.crls,
    issuers: [input.issuer],
    ocsp,
    mode: ocsp ? (input.crls.length || cert.crlUrls.length ? "crl-then-ocsp" : "ocsp") : "crl",
    refreshInterval: 0,
    timeout: input.timeout,
    logger: silentLogger,
  });
  try {
    await checker.ready;
    const v = await checker.check(input.leaf, input.issuer);
    if (v.status === "good") {
      return { name, status: "pass", summary: `not revoked (${v.source}: ${v.detail})` };
    }
    if (v.status === "revoked") {
      const when = v.revokedAt ? ` on ${v.revokedAt.toISOString()}` : "";
      const why = v.revocationReason ? ` (${v.revocationReason})` : "";
      return {
        name,
        status: "fail",
        code: "revoked",
        summary: `server certificate serial ${v.serial} was revoked${when}${why}`,
        fix: "the server must get a new certificate; do not trust this one",
      };
    }
    return {
      name,
      status: "fail",
      code: "revocation_unknown",
      summary: `revocation status of serial ${v.serial} is unknown: ${v.detail}`,
      fix: `make sure ${
        sources.join(", ")
      } can be reached and is current, or pass a CRL with --crl`,
    };
  } finally {
    checker.close();
  }
}

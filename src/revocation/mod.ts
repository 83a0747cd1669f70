/**
 * Certificate revocation checking: CRLs (files or URLs, verified against the
 * issuer, refreshed in the background, last good kept) and OCSP (nonce,
 * delegated responders, certID and validity checks), behind one cache with
 * per-responder timeout and cooldown, and a `deny`/`allow` failure mode.
 *
 * Runtime-neutral: WebCrypto plus injected `fetch`, clock and file reader.
 * Lookups in a loaded CRL are O(1) by serial; a million-entry CRL loads in one
 * lean pass over its DER.
 *
 * @example Refusing revoked peers in a TLS handshake
 * ```ts ignore
 * import { createRevocationChecker } from "@mtls/mcp/revocation";
 * import { PeerRejectedError } from "@mtls/mcp/errors";
 *
 * const checker = createRevocationChecker({
 *   crls: ["certs/ca.crl"],
 *   issuers: [await Deno.readTextFile("certs/ca.crt")],
 *   ocsp: true, // ask the responder named in the certificate when no CRL decides
 *   failureMode: "deny",
 * });
 * await checker.ready;
 * try {
 *   await checker.verify(peerLeafDer, peerIssuerDer, { peer: "127.0.0.1:50123" });
 * } catch (e) {
 *   if (e instanceof PeerRejectedError) console.log(e.code, e.message); // "revoked" | "revocation_unknown"
 * }
 * checker.close();
 * ```
 *
 * @module
 */
export { createRevocationChecker } from "./checker.ts";
export type {
  OcspOptions,
  RevocationChecker,
  RevocationCheckerOptions,
  RevocationMode,
  RevocationState,
  VerifyRevocationOptions,
} from "./checker_options.ts";
export { type CrlEntry, parseCrl, ParsedCrl, verifyCrl } from "./crl.ts";
export type { CrlSourceState } from "./crl_source.ts";
export {
  type FetchLike,
  type ReadFileLike,
  reasonCode,
  REVOCATION_REASONS,
  type RevocationReason,
  type RevocationVerdict,
} from "./types.ts";
export { normalizeSerial } from "./serial.ts";
export type { LogFields, Logger } from "../log/logger.ts";

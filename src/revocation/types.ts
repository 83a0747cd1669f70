/**
 * Shared revocation types: reasons, verdicts and injected interfaces.
 *
 * @module
 */

/**
 * CRL reason codes (RFC 5280 §5.3.1), by name. `certificateHold` counts as revoked.
 *
 * @example
 * ```ts
 * import type { RevocationReason } from "@mtls/mcp/revocation";
 * const r: RevocationReason = "keyCompromise";
 * ```
 */
export type RevocationReason =
  | "unspecified"
  | "keyCompromise"
  | "cACompromise"
  | "affiliationChanged"
  | "superseded"
  | "cessationOfOperation"
  | "certificateHold"
  | "removeFromCRL"
  | "privilegeWithdrawn"
  | "aACompromise";

/**
 * Reason names by their numeric CRLReason value (7 is unused by the standard).
 *
 * @example
 * ```ts
 * import { REVOCATION_REASONS } from "@mtls/mcp/revocation";
 * console.log(REVOCATION_REASONS[1]); // "keyCompromise"
 * ```
 */
export const REVOCATION_REASONS: Readonly<Record<number, RevocationReason>> = {
  0: "unspecified",
  1: "keyCompromise",
  2: "cACompromise",
  3: "affiliationChanged",
  4: "superseded",
  5: "cessationOfOperation",
  6: "certificateHold",
  8: "removeFromCRL",
  9: "privilegeWithdrawn",
  10: "aACompromise",
};

/**
 * The numeric CRLReason for a reason name, or `undefined` for an unknown name
 * (matched case-insensitively).
 *
 * @example
 * ```ts
 * import { reasonCode } from "@mtls/mcp/revocation";
 * reasonCode("keycompromise"); // 1
 * ```
 */
export function reasonCode(name: string): number | undefined {
  const lower = name.toLowerCase();
  for (const [code, n] of Object.entries(REVOCATION_REASONS)) {
    if (n.toLowerCase() === lower) return Number(code);
  }
  return undefined;
}

/**
 * What a revocation check found for one certificate.
 *
 * @example
 * ```ts
 * import type { RevocationVerdict } from "@mtls/mcp/revocation";
 * const v: RevocationVerdict = { status: "good", source: "crl", serial: "1a", detail: "not listed" };
 * ```
 */
export interface RevocationVerdict {
  /** `good`: checked and not revoked; `revoked`; `unknown`: could not be decided. */
  status: "good" | "revoked" | "unknown";
  /** Where the answer came from; `none` when no source could answer. */
  source: "crl" | "ocsp" | "none";
  /** The certificate's serial number, normalized hex. */
  serial: string;
  /** Why it was revoked, when the source says. */
  revocationReason?: RevocationReason;
  /** When it was revoked. */
  revokedAt?: Date;
  /** Until when this answer may be reused (the source's nextUpdate). */
  validUntil?: Date;
  /** One line for logs: which source said what, or why no source could answer. */
  detail: string;
}

/**
 * The `fetch` shape the checker uses; the global `fetch` fits.
 *
 * @example
 * ```ts
 * import type { FetchLike } from "@mtls/mcp/revocation";
 * const f: FetchLike = (input, init) => fetch(input, init);
 * ```
 */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * Reads a whole file; the default uses `node:fs/promises`.
 *
 * @example
 * ```ts
 * import type { ReadFileLike } from "@mtls/mcp/revocation";
 * const read: ReadFileLike = (path) => Deno.readFile(path);
 * ```
 */
export type ReadFileLike = (path: string) => Promise<Uint8Array>;

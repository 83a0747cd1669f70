/**
 * The identity of a peer, computed once from its certificate.
 *
 * @module
 */

import { createHash, type X509Certificate } from "node:crypto";
import { readCertificateFields, type SubjectAltNames } from "./der.ts";

/**
 * Who the peer is, according to its (verified) certificate. Plain data: safe
 * to log, to serialise as JSON and to hand to tool handlers.
 *
 * @example
 * ```ts
 * import type { PeerIdentity } from "@mtls/mcp/policy";
 * function label(id: PeerIdentity): string {
 *   return id.spiffeId ?? id.commonName ?? id.fingerprint;
 * }
 * ```
 */
export interface PeerIdentity {
  /** Subject common name, when present. */
  commonName?: string;
  /** Full subject distinguished name, as `node:crypto` prints it. */
  subject: string;
  /** Every subject alternative name, by kind. */
  subjectAltNames: SubjectAltNames;
  /** The first URI SAN starting with `spiffe://`, when present. */
  spiffeId?: string;
  /** Serial number, uppercase hex. */
  serialNumber: string;
  /** Issuer distinguished name. */
  issuer: string;
  /** Start of validity, ISO 8601. */
  notBefore: string;
  /** End of validity, ISO 8601. */
  notAfter: string;
  /** SHA-256 of the certificate DER, lowercase hex without separators. */
  fingerprint: string;
  /** Base64 SHA-256 of the SubjectPublicKeyInfo DER (an HPKP-style pin). */
  spkiPin: string;
}

/**
 * Computes a {@link PeerIdentity} from a parsed certificate. Costs about 15 µs
 * (one SPKI export and two SHA-256 hashes), so the server runs it once per
 * connection and caches the result on the socket.
 *
 * @example Identity of a certificate
 * ```ts ignore
 * import { X509Certificate } from "node:crypto";
 * import { peerIdentity } from "@mtls/mcp/policy";
 * const id = peerIdentity(new X509Certificate(pem));
 * console.log(id.spiffeId, id.fingerprint);
 * ```
 */
export function peerIdentity(cert: X509Certificate): PeerIdentity {
  const raw = new Uint8Array(cert.raw);
  const fields = readCertificateFields(raw);
  const spki = cert.publicKey.export({ type: "spki", format: "der" });
  return {
    commonName: fields.commonName,
    subject: cert.subject,
    subjectAltNames: fields.subjectAltNames,
    spiffeId: fields.subjectAltNames.uri.find((u) => u.startsWith("spiffe://")),
    serialNumber: cert.serialNumber.toUpperCase(),
    issuer: cert.issuer,
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    fingerprint: createHash("sha256").update(raw).digest("hex"),
    spkiPin: createHash("sha256").update(spki).digest("base64"),
  };
}

/**
 * A short, stable label for an identity: the SPIFFE ID, else `cn:NAME`, else
 * `sha256:FINGERPRINT`. Used as the SDK `AuthInfo.clientId` and in logs.
 *
 * @example
 * ```ts
 * import { identityLabel } from "@mtls/mcp/policy";
 * identityLabel({ commonName: "alice", fingerprint: "ab" }); // "cn:alice"
 * ```
 */
export function identityLabel(
  identity: Pick<PeerIdentity, "spiffeId" | "commonName" | "fingerprint">,
): string {
  if (identity.spiffeId) return identity.spiffeId;
  if (identity.commonName) return `cn:${identity.commonName}`;
  return `sha256:${identity.fingerprint}`;
}

/**
 * The identity of a peer, computed once from its certificate, and the rule
 * that makes it unambiguous.
 *
 * Every name mcp-mtls derives from a client certificate (authorization rules,
 * pins and TOFU, logs, metrics, the SDK `clientId`, the stdio bridge's `_meta`
 * and `MCP_MTLS_PEER_*` environment) comes from {@link peerIdentity} and
 * {@link identityLabel}, and {@link peerIdentity} refuses a certificate whose
 * identity-bearing fields could name two peers (see
 * {@link checkIdentityAmbiguity}).
 *
 * @module
 */

import type { Certificate } from "../cert/certificate.ts";
import type { SubjectAltNames } from "../cert/extensions.ts";
import type { DistinguishedName } from "../cert/names.ts";
import { PeerRejectedError } from "../errors.ts";
import type { Refusal } from "./verify_chain.ts";

/**
 * A peer's subject alternative names, one list per kind (the model's
 * `SubjectAltNames` without the count of other forms).
 *
 * @example
 * ```ts
 * import type { PeerSubjectAltNames } from "@mtls/mcp/policy";
 * const sans: PeerSubjectAltNames = { dns: ["localhost"], ip: [], uri: [], email: [] };
 * ```
 */
export type PeerSubjectAltNames = Pick<SubjectAltNames, "dns" | "ip" | "uri" | "email">;

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
  /** Subject common name, when present (never one of several: see {@link checkIdentityAmbiguity}). */
  commonName?: string;
  /**
   * Full subject distinguished name, one RDN per line (`O=Acme\nCN=agent`),
   * control characters escaped: the certificate model's `subject.text`.
   */
  subject: string;
  /** Every subject alternative name, by kind. */
  subjectAltNames: PeerSubjectAltNames;
  /** The SPIFFE ID: the certificate's only URI SAN, when it starts with `spiffe://`. */
  spiffeId?: string;
  /** Serial number, uppercase hex. */
  serialNumber: string;
  /** Issuer distinguished name, as `subject`. */
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
 * Every CN attribute value of a name, in certificate order.
 *
 * @example
 * ```ts ignore
 * commonNamesOf(cert.subject); // ["agent-1"]
 * ```
 */
export function commonNamesOf(name: DistinguishedName): string[] {
  return name.attributes.filter((a) => a.oid === OID_CN).map((a) => a.value);
}

const OID_CN = "2.5.4.3";

/**
 * Computes a {@link PeerIdentity} from a certificate of the model: plain
 * copies of fields it already holds, so the server runs it once per
 * connection and keeps the result with the connection.
 *
 * @throws {PeerRejectedError} `ambiguous_identity` when the certificate's
 * identity-bearing fields are ambiguous (see {@link checkIdentityAmbiguity}):
 * no identity is made up by picking one of two names.
 *
 * @example Identity of a certificate
 * ```ts ignore
 * import { readCertificate } from "@mtls/mcp/cert";
 * import { peerIdentity } from "@mtls/mcp/policy";
 * const id = peerIdentity(readCertificate(pem));
 * console.log(id.spiffeId, id.fingerprint);
 * ```
 */
export function peerIdentity(cert: Certificate): PeerIdentity {
  const ambiguous = checkIdentityAmbiguity(cert);
  if (ambiguous) throw new PeerRejectedError(ambiguous.reason, ambiguous.message);
  const { dns, ip, uri, email } = cert.subjectAltNames;
  const cns = commonNamesOf(cert.subject);
  return {
    commonName: cns.length === 1 ? cns[0] : undefined,
    subject: cert.subject.text,
    // Copies: the verdict cache freezes an identity, never the shared model.
    subjectAltNames: { dns: [...dns], ip: [...ip], uri: [...uri], email: [...email] },
    spiffeId: uri.find((u) => u.startsWith("spiffe://")),
    serialNumber: cert.serialNumber,
    issuer: cert.issuer.text,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    fingerprint: cert.fingerprint,
    spkiPin: cert.spkiPin.slice("sha256/".length),
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

/** C0 and C1 controls, DEL and the Unicode line and paragraph separators. */
function hasControl(name: string): boolean {
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) return true;
  }
  return false;
}

/** A URI SAN whose scheme is `spiffe` (schemes are case-insensitive, RFC 3986 §3.1). */
function isSpiffeUri(uri: string): boolean {
  return uri.slice(0, 7).toLowerCase() === "spiffe:";
}

/**
 * Whether a certificate's identity-bearing fields could name two peers, as a
 * refusal with reason `ambiguous_identity`, or `undefined` when they cannot.
 * Ambiguous, because two readers (or a CA that checks only the first CN and
 * a server that takes the last) would disagree about who the peer is:
 * - several CN attributes anywhere in the subject (`CN=agent, CN=admin`);
 * - a CN inside a multi-valued RDN (`CN=a+O=b`): the attributes of such an
 *   RDN are a SET, printed and split differently by different software;
 * - a CN or SPIFFE ID holding a control character or line break: a single
 *   CN `agent\nCN=admin` prints exactly like the two CNs `agent` and
 *   `admin` wherever it is not escaped (`node:crypto`'s
 *   `X509Certificate.subject` is `CN=agent\nCN=admin` for both; the model's
 *   `subject.text` escapes it as `CN=agent\0aCN=admin`), in logs of other
 *   software and to code that reads the CN itself;
 * - a SPIFFE ID (a `spiffe:` URI SAN, any case) beside any other URI SAN.
 *   The SPIFFE X.509-SVID standard, §2: "An X.509 SVID MUST contain exactly
 *   one URI SAN, and by extension, exactly one SPIFFE ID", and "Validators
 *   encountering an SVID containing more than one URI SAN MUST reject the
 *   SVID". Several URI SANs without a SPIFFE ID are not an SVID and stay
 *   allowed (`uri:` rules match any of them, as for DNS names).
 *
 * {@link peerIdentity} runs it, so every policy (strict, demo, custom)
 * refuses such a certificate at admission.
 *
 * @param cert the certificate (its subject and SANs are read)
 *
 * @example Two common names
 * ```ts ignore
 * import { readCertificate } from "@mtls/mcp/cert";
 * import { checkIdentityAmbiguity } from "./identity.ts";
 * checkIdentityAmbiguity(readCertificate(pemWithTwoCns))?.reason; // "ambiguous_identity"
 * ```
 */
export function checkIdentityAmbiguity(
  cert: Pick<Certificate, "subject" | "subjectAltNames">,
): Refusal | undefined {
  const what = `Certificate "${cert.subject.text.replaceAll("\n", ", ")}" is ambiguous`;
  const quoted = (list: readonly string[]) => list.map((v) => `"${v}"`).join(", ");
  const cns = commonNamesOf(cert.subject);
  if (cns.length > 1) {
    return {
      reason: "ambiguous_identity",
      message: `${what}: its subject has ${cns.length} common names (${quoted(cns)})`,
    };
  }
  const uris = cert.subjectAltNames.uri;
  const spiffe = uris.filter(isSpiffeUri);
  const garbled = [...cns, ...spiffe].find(hasControl);
  if (garbled !== undefined) {
    return {
      reason: "ambiguous_identity",
      message: `${what}: its ${cns.includes(garbled) ? "common name" : "SPIFFE ID"} ${
        JSON.stringify(garbled)
      } contains a control character or line break`,
    };
  }
  if (cert.subject.rdns.some((rdn) => rdn.length > 1 && rdn.some((a) => a.oid === OID_CN))) {
    return {
      reason: "ambiguous_identity",
      message: `${what}: its common name "${
        cns[0]
      }" shares a multi-valued RDN with other attributes`,
    };
  }
  if (uris.length > 1 && spiffe.length > 0) {
    return {
      reason: "ambiguous_identity",
      message:
        `${what}: it has ${uris.length} URI SANs (${quoted(uris)}) and one is a SPIFFE ID; ` +
        "an X.509-SVID must have exactly one URI SAN",
    };
  }
  return undefined;
}

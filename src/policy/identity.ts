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

import { createHash, type X509Certificate } from "node:crypto";
import { PeerRejectedError } from "../errors.ts";
import { type CertificateFields, readCertificateFields, type SubjectAltNames } from "./der.ts";
import type { Refusal } from "./verify_chain.ts";

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
  /** Full subject distinguished name, as `node:crypto` prints it. */
  subject: string;
  /** Every subject alternative name, by kind. */
  subjectAltNames: SubjectAltNames;
  /** The SPIFFE ID: the certificate's only URI SAN, when it starts with `spiffe://`. */
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
 * @throws {PeerRejectedError} `ambiguous_identity` when the certificate's
 * identity-bearing fields are ambiguous (see {@link checkIdentityAmbiguity}):
 * no identity is made up by picking one of two names.
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
  const ambiguous = checkIdentityAmbiguity(fields, cert.subject);
  if (ambiguous) throw new PeerRejectedError(ambiguous.reason, ambiguous.message);
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
 *   `admin` (`X509Certificate.subject` is `CN=agent\nCN=admin` for both), in
 *   logs and to a custom policy hook reading `identity.subject`;
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
 * @param fields the certificate's fields
 * @param subject the subject DN for the message, as `node:crypto` prints it
 *
 * @example Two common names
 * ```ts
 * import { checkIdentityAmbiguity } from "./identity.ts";
 * const refusal = checkIdentityAmbiguity({
 *   commonNames: ["agent", "admin"],
 *   commonNameInMultiValuedRdn: false,
 *   subjectAltNames: { dns: [], ip: [], uri: [], email: [] },
 * }, "CN=agent\nCN=admin");
 * refusal?.reason; // "ambiguous_identity"
 * ```
 */
export function checkIdentityAmbiguity(
  fields: Pick<CertificateFields, "commonNames" | "commonNameInMultiValuedRdn" | "subjectAltNames">,
  subject: string,
): Refusal | undefined {
  const what = `Certificate "${subject.replaceAll("\n", ", ")}" is ambiguous`;
  const quoted = (list: readonly string[]) => list.map((v) => `"${v}"`).join(", ");
  const cns = fields.commonNames;
  if (cns.length > 1) {
    return {
      reason: "ambiguous_identity",
      message: `${what}: its subject has ${cns.length} common names (${quoted(cns)})`,
    };
  }
  const uris = fields.subjectAltNames.uri;
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
  if (fields.commonNameInMultiValuedRdn) {
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

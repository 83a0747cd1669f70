/**
 * Extensions of a server or client (leaf) certificate.
 *
 * @module
 */
import { CertificateError } from "../errors.ts";
import { uncompressedIpAddress } from "../cert/ip_address.ts";
import type { KeyType } from "./key_type.ts";
import type { ExtendedKeyUsageName, LeafOptions } from "./options.ts";
import {
  canonicalIp,
  isDnsName,
  parseSubjectAltNames,
  type SubjectAltName,
} from "./subject_alt_names.ts";
import {
  AuthorityInfoAccessExtension,
  BasicConstraintsExtension,
  CRLDistributionPointsExtension,
  ExtendedKeyUsageExtension,
  type Extension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
} from "./x509.ts";

/** A leaf's role: which side of the TLS connection it authenticates. */
export type Role = "server" | "client";

const EKU_OIDS: Record<ExtendedKeyUsageName, string> = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  ocspSigning: "1.3.6.1.5.5.7.3.9",
};

/** Options checked and defaulted once, before any key is generated. */
export interface LeafPlan {
  commonName: string;
  extensions: (keyType: KeyType) => Extension[];
}

/** Validates leaf options and plans the extensions for `role`. */
export function planLeaf(role: Role, options: LeafOptions): LeafPlan {
  if (role !== "server" && role !== "client") {
    throw new CertificateError(
      "invalid_argument",
      `Invalid role "${role}": expected "server" or "client"`,
    );
  }
  const commonName = options.commonName ?? (role === "server" ? "localhost" : "mcp-client");
  const sans = subjectAltNames(role, commonName, options.subjectAltNames);
  const ekus = extendedKeyUsage(role, options.extendedKeyUsage);
  const crlUrls = urls("CRL distribution point", options.crlDistributionPoints ?? []);
  const ocsp = urls("OCSP URL", options.ocspUrl === undefined ? [] : [options.ocspUrl]);
  return {
    commonName,
    extensions: (keyType) => {
      const list: Extension[] = [
        new BasicConstraintsExtension(false, undefined, true),
        new KeyUsagesExtension(keyUsage(role, keyType), true),
        new ExtendedKeyUsageExtension(ekus.map((e) => EKU_OIDS[e]), false),
      ];
      if (sans.length) {
        list.push(
          new SubjectAlternativeNameExtension(
            sans.map((s) => ({
              type: s.type === "uri" ? "url" as const : s.type,
              // x509 misreads mixed notation (::ffff:1.2.3.4): give it plain hex groups.
              value: s.type === "ip" ? uncompressedIpAddress(s.value) : s.value,
            })),
            false,
          ),
        );
      }
      if (crlUrls.length) list.push(new CRLDistributionPointsExtension(crlUrls, false));
      if (ocsp.length) list.push(new AuthorityInfoAccessExtension({ ocsp }, false));
      return list;
    },
  };
}

/** RSA servers may need keyEncipherment (TLS 1.2 RSA key exchange); signatures suffice otherwise. */
function keyUsage(role: Role, keyType: KeyType): number {
  return role === "server" && keyType.startsWith("rsa-")
    ? KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment
    : KeyUsageFlags.digitalSignature;
}

function subjectAltNames(
  role: Role,
  commonName: string,
  requested: LeafOptions["subjectAltNames"],
): SubjectAltName[] {
  if (typeof requested === "string") return parseSubjectAltNames(requested);
  if (requested !== undefined) {
    // Validate structured input through the same parser as text.
    return parseSubjectAltNames(requested.map((s) => `${s.type}:${s.value}`).join(","));
  }
  if (role === "client") return [];
  const ip = canonicalIp(commonName);
  if (ip !== undefined) return [{ type: "ip", value: ip }];
  return isDnsName(commonName) ? [{ type: "dns", value: commonName.toLowerCase() }] : [];
}

function extendedKeyUsage(
  role: Role,
  requested: ExtendedKeyUsageName[] | undefined,
): ExtendedKeyUsageName[] {
  if (requested === undefined) return [role === "server" ? "serverAuth" : "clientAuth"];
  const bad = requested.find((e) => !(e in EKU_OIDS));
  if (bad !== undefined || requested.length === 0) {
    throw new CertificateError(
      "invalid_argument",
      `Invalid extended key usage "${
        bad ?? ""
      }": expected serverAuth, clientAuth, ocspSigning or codeSigning`,
    );
  }
  return requested;
}

function urls(what: string, values: string[]): string[] {
  for (const value of values) {
    let ok = false;
    try {
      ok = ["http:", "https:", "ldap:"].includes(new URL(value).protocol);
    } catch { /* reported below */ }
    if (!ok) {
      throw new CertificateError(
        "invalid_argument",
        `Invalid ${what} "${value}": expected an http(s) URL`,
      );
    }
  }
  return values;
}

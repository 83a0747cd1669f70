/**
 * CRL signing: a version-2 CRL with Authority Key Identifier and CRL Number
 * extensions, signed by a CA key (EC P-256/P-384, RSA PKCS#1 v1.5 or Ed25519)
 * through `@peculiar/x509`'s generator.
 *
 * @module
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { CertificateError } from "../errors.ts";

/**
 * CRL reason names accepted by {@link createCrl} (RFC 5280 §5.3.1).
 *
 * @example
 * ```ts
 * import type { CrlReason } from "@mtls/mcp/pki";
 * const r: CrlReason = "keyCompromise";
 * ```
 */
export type CrlReason =
  | "unspecified"
  | "keyCompromise"
  | "cACompromise"
  | "affiliationChanged"
  | "superseded"
  | "cessationOfOperation"
  | "certificateHold"
  | "privilegeWithdrawn"
  | "aACompromise";

/**
 * The CA that signs a CRL.
 *
 * @example
 * ```ts ignore
 * import type { CrlIssuer } from "@mtls/mcp/pki";
 * const issuer: CrlIssuer = { certificate: ca.certificate, privateKey: ca.privateKey };
 * ```
 */
export interface CrlIssuer {
  /** The CA certificate; its subject becomes the CRL issuer. */
  certificate: x509.X509Certificate;
  /** The CA private key (must allow `sign`). */
  privateKey: CryptoKey;
}

/**
 * One revoked certificate.
 *
 * @example
 * ```ts
 * import type { CrlEntryInput } from "@mtls/mcp/pki";
 * const e: CrlEntryInput = { serialNumber: "1a2b", revocationDate: new Date(), reason: "superseded" };
 * ```
 */
export interface CrlEntryInput {
  /** Serial number in hex (separators `:` allowed). */
  serialNumber: string;
  /** When it was revoked. */
  revocationDate: Date;
  /** Why; omitted means no reasonCode extension. */
  reason?: CrlReason;
}

/**
 * Options for {@link createCrl}.
 *
 * @example
 * ```ts
 * import type { CreateCrlOptions } from "@mtls/mcp/pki";
 * const o: CreateCrlOptions = { crlNumber: 7n, validity: 24 * 3600_000 };
 * ```
 */
export interface CreateCrlOptions {
  /** The CRL Number extension; must increase with every CRL the CA issues. */
  crlNumber: bigint | number;
  /** thisUpdate. @default {now} */
  thisUpdate?: Date;
  /** nextUpdate; wins over `validity`. @default {thisUpdate + validity} */
  nextUpdate?: Date;
  /** Milliseconds from thisUpdate to nextUpdate. @default {7 days} */
  validity?: number;
}

function signingAlgorithm(key: CryptoKey): Algorithm | EcdsaParams {
  const alg = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
  switch (alg.name) {
    case "ECDSA":
      return {
        name: "ECDSA",
        hash: alg.namedCurve === "P-384"
          ? "SHA-384"
          : alg.namedCurve === "P-521"
          ? "SHA-512"
          : "SHA-256",
      } as EcdsaParams;
    case "RSASSA-PKCS1-v1_5":
      return { name: alg.name, hash: alg.hash?.name ?? "SHA-256" } as Algorithm;
    case "Ed25519":
      return { name: "Ed25519" };
    default:
      throw new CertificateError(
        "unsupported_key",
        `Cannot sign a CRL with a "${alg.name}" key: use ECDSA, RSASSA-PKCS1-v1_5 or Ed25519`,
      );
  }
}

function integerDer(n: bigint): Uint8Array<ArrayBuffer> {
  if (n < 0n) throw new CertificateError("invalid_argument", `CRL number "${n}" is negative`);
  let hex = n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = "00" + hex;
  const body = hex.match(/../g)!.map((h) => parseInt(h, 16));
  return new Uint8Array([0x02, body.length, ...body]);
}

const REASONS: Record<CrlReason, x509.X509CrlReason> = {
  unspecified: x509.X509CrlReason.unspecified,
  keyCompromise: x509.X509CrlReason.keyCompromise,
  cACompromise: x509.X509CrlReason.cACompromise,
  affiliationChanged: x509.X509CrlReason.affiliationChanged,
  superseded: x509.X509CrlReason.superseded,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
  certificateHold: x509.X509CrlReason.certificateHold,
  privilegeWithdrawn: x509.X509CrlReason.privilegeWithdrawn,
  aACompromise: x509.X509CrlReason.aACompromise,
};

/**
 * Creates and signs a CRL; resolves to its DER bytes.
 *
 * @param issuer the CA certificate and its private key
 * @param entries revoked certificates (may be empty)
 * @param options CRL number and validity window
 * @throws {CertificateError} `invalid_argument` for a bad serial or CRL number, `unsupported_key` for a key that cannot sign CRLs
 *
 * @example Revoking one certificate
 * ```ts ignore
 * import { createCrl, crlToPem } from "@mtls/mcp/pki";
 * const der = await createCrl(ca, [
 *   { serialNumber: "1a2b", revocationDate: new Date(), reason: "keyCompromise" },
 * ], { crlNumber: 1 });
 * await Deno.writeTextFile("certs/ca.crl", crlToPem(der));
 * ```
 */
export async function createCrl(
  issuer: CrlIssuer,
  entries: readonly CrlEntryInput[],
  options: CreateCrlOptions,
): Promise<Uint8Array> {
  const { crlNumber, thisUpdate = new Date(), validity = 7 * 24 * 3600_000 } = options;
  const nextUpdate = options.nextUpdate ?? new Date(thisUpdate.getTime() + validity);
  if (nextUpdate <= thisUpdate) {
    throw new CertificateError(
      "invalid_argument",
      `CRL nextUpdate "${nextUpdate.toISOString()}" is not after thisUpdate "${thisUpdate.toISOString()}"`,
    );
  }
  const crlEntries: x509.X509CrlEntryParams[] = entries.map((e) => {
    const serial = e.serialNumber.replace(/[:\s]/g, "").toLowerCase();
    if (!/^[0-9a-f]+$/.test(serial)) {
      throw new CertificateError(
        "invalid_argument",
        `Serial number "${e.serialNumber}" is not hex`,
      );
    }
    // A DER INTEGER is signed: keep serials positive with a leading zero octet.
    let hex = serial.length % 2 ? "0" + serial : serial;
    if (parseInt(hex[0], 16) >= 8) hex = "00" + hex;
    return {
      serialNumber: hex,
      revocationDate: e.revocationDate,
      reason: e.reason === undefined ? undefined : REASONS[e.reason],
    };
  });
  const cert = issuer.certificate;
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const aki = ski
    ? new x509.AuthorityKeyIdentifierExtension(ski.keyId, false)
    : await x509.AuthorityKeyIdentifierExtension.create(cert.publicKey, false);
  const crl = await x509.X509CrlGenerator.create({
    issuer: cert.subjectName,
    thisUpdate,
    nextUpdate,
    signingAlgorithm: signingAlgorithm(issuer.privateKey),
    signingKey: issuer.privateKey,
    entries: crlEntries,
    extensions: [aki, new x509.Extension("2.5.29.20", false, integerDer(BigInt(crlNumber)))],
  });
  return new Uint8Array(crl.rawData);
}

/**
 * Wraps CRL DER bytes as PEM (`-----BEGIN X509 CRL-----`).
 *
 * @example
 * ```ts
 * import { crlToPem } from "@mtls/mcp/pki";
 * console.log(crlToPem(new Uint8Array([0x30, 0x00])));
 * ```
 */
export function crlToPem(der: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < der.length; i += 0x8000) {
    bin += String.fromCharCode(...der.subarray(i, i + 0x8000));
  }
  const b64 = btoa(bin).replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN X509 CRL-----\n${b64}\n-----END X509 CRL-----\n`;
}

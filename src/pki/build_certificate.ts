/**
 * The machinery shared by every creator: validity, serial numbers, key pairs,
 * key identifiers and signing. Not exported from the package.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { readCertificate } from "../cert/certificate.ts";
import { encodePem } from "../cert/pem.ts";
import { CertificateError } from "../errors.ts";
import {
  generateKeyPair,
  type KeyType,
  keyTypeOf,
  parseKeyType,
  signingAlgorithm,
} from "./key_type.ts";
import type { CertificateBundle, ValidityOptions } from "./options.ts";
import { exportPrivateKeyPem } from "./private_key.ts";
import {
  AuthorityKeyIdentifierExtension,
  type Extension,
  Name,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator,
} from "./x509.ts";

const DAY_MS = 86_400_000;
/** notBefore is backdated by this much so peers with a slow clock accept a new certificate. */
const BACKDATE_MS = 5 * 60_000;
const MAX_DAYS = 36_500;

/** Everything {@link buildCertificate} needs besides the role-specific extensions. */
export interface BuildParams {
  commonName: string;
  options: ValidityOptions;
  defaultDays: number;
  /** The issuing CA; `undefined` for a self-signed certificate. */
  issuer?: CertificateBundle;
  /** Extensions other than SKI and AKI, which are added here. */
  extensions: (keyType: KeyType) => Extension[];
}

/**
 * Generates a key pair and signs a certificate for it. `@peculiar/x509`
 * writes the certificate; what the bundle holds is the model's reading of
 * its DER, so no generator type leaves this module.
 */
export async function buildCertificate(params: BuildParams): Promise<CertificateBundle> {
  const { options, issuer } = params;
  const keyType = options.keyPair
    ? existingKeyType(options.keyPair, options.keyType)
    : parseKeyType(options.keyType ?? "ec-p256");
  const { notBefore, notAfter } = validity(options, params.defaultDays, issuer);
  const serialNumber = serial(options.serialNumber);
  const commonName = checkCommonName(params.commonName);
  const exportable = options.exportable ?? false;

  const keys = options.keyPair ?? await generateKeyPair(keyType, exportable);
  const ski = await SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto);
  const extensions = [...params.extensions(keyType), ski];
  if (issuer) extensions.push(authorityKeyId(issuer));

  const subject = new Name([{ "2.5.4.3": [commonName] }]);
  const generated = await X509CertificateGenerator.create({
    serialNumber,
    subject,
    // The issuer's own encoding, byte for byte, so chain building matches names.
    issuer: issuer ? new Name(issuer.certificate.subject.der.slice()) : subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: issuer ? issuer.privateKey : keys.privateKey,
    signingAlgorithm: signingAlgorithm(issuer ? issuer.keyType : keyType),
    extensions,
  }, crypto);
  const der = new Uint8Array(generated.rawData);
  return {
    certificate: readCertificate(der),
    certificatePem: encodePem(der, "CERTIFICATE"),
    privateKey: keys.privateKey,
    privateKeyPem: exportable ? await exportPrivateKeyPem(keys.privateKey) : undefined,
    keyType,
  };
}

/** Throws unless `issuer` is a CA that may sign a certificate of this kind. */
export function assertCanIssue(issuer: CertificateBundle, issuingCa: boolean): void {
  const bc = issuer.certificate.basicConstraints;
  if (!bc?.ca) {
    throw new CertificateError(
      "invalid_argument",
      `Certificate "${issuer.certificate.subject.text}" is not a CA and cannot issue certificates`,
    );
  }
  if (issuingCa && bc.pathLength === 0) {
    throw new CertificateError(
      "invalid_argument",
      `CA "${issuer.certificate.subject.text}" has path length 0 and cannot issue an intermediate CA`,
    );
  }
}

/** The key type of a caller's key pair, which must agree with `keyType` when both are given. */
function existingKeyType(keyPair: CryptoKeyPair, requested: KeyType | undefined): KeyType {
  const keyType = keyTypeOf(keyPair.privateKey);
  if (keyType === undefined) {
    throw new CertificateError(
      "unsupported_key",
      `Unsupported key pair "${keyPair.privateKey.algorithm.name}": use EC P-256/P-384, Ed25519 or RSA 2048/3072/4096 (RSASSA-PKCS1-v1_5)`,
    );
  }
  if (requested !== undefined && requested !== keyType) {
    throw new CertificateError(
      "invalid_argument",
      `Key type "${requested}" does not match the given key pair ("${keyType}")`,
    );
  }
  return keyType;
}

function checkCommonName(commonName: string): string {
  if (commonName.trim() === "" || commonName.length > 64) {
    throw new CertificateError(
      "invalid_argument",
      `Invalid common name "${commonName}": expected 1 to 64 characters`,
    );
  }
  // A control character (a line break above all) makes the printed subject
  // ambiguous ("agent\nCN=admin" prints like two CNs), and the server refuses
  // such a certificate as ambiguous_identity: never issue one.
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(commonName)) {
    throw new CertificateError(
      "invalid_argument",
      `Invalid common name ${JSON.stringify(commonName)}: control characters are not allowed`,
    );
  }
  return commonName;
}

function validity(
  options: ValidityOptions,
  defaultDays: number,
  issuer: CertificateBundle | undefined,
): { notBefore: Date; notAfter: Date } {
  const { days = defaultDays } = options;
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new CertificateError(
      "invalid_argument",
      `Invalid days "${days}": expected a whole number from 1 to ${MAX_DAYS}`,
    );
  }
  const now = Date.now();
  const notBefore = options.notBefore ?? new Date(now - BACKDATE_MS);
  let notAfter = options.notAfter ??
    new Date((options.notBefore?.getTime() ?? now) + days * DAY_MS);
  // A lifetime from `days` never outlives the issuer; an explicit notAfter is taken as asked.
  if (!options.notAfter && issuer && notAfter > issuer.certificate.notAfter) {
    notAfter = issuer.certificate.notAfter;
    if (notAfter <= notBefore) {
      throw new CertificateError(
        "invalid_certificate",
        `CA "${issuer.certificate.subject.text}" expired on ${notAfter.toISOString()}: it cannot issue certificates`,
      );
    }
  }
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) {
    throw new CertificateError(
      "invalid_argument",
      "Invalid validity: notBefore or notAfter is not a date",
    );
  }
  if (notAfter <= notBefore) {
    throw new CertificateError(
      "invalid_argument",
      `Invalid validity: notAfter "${notAfter.toISOString()}" is not after notBefore "${notBefore.toISOString()}"`,
    );
  }
  return { notBefore, notAfter };
}

function serial(requested: string | undefined): string {
  if (requested !== undefined) {
    if (!/^[0-9a-f]{1,40}$/i.test(requested) || /^0+$/.test(requested)) {
      throw new CertificateError(
        "invalid_argument",
        `Invalid serial number "${requested}": expected 1 to 40 hex digits, not zero`,
      );
    }
    return requested.length % 2 ? `0${requested}` : requested;
  }
  const bytes = new Uint8Array(16);
  do crypto.getRandomValues(bytes); while (bytes[0] === 0);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function authorityKeyId(issuer: CertificateBundle): Extension {
  // Reuse the issuer's SKI as is: CAs made by other tools may derive it differently.
  // Without one, RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
  const { subjectKeyId, publicKey } = issuer.certificate;
  return new AuthorityKeyIdentifierExtension(
    subjectKeyId ?? createHash("sha1").update(publicKey.subjectPublicKey).digest("hex"),
  );
}

/**
 * Private keys in and out: PKCS#8 (PEM or DER), plus the PKCS#1 RSA and SEC1
 * EC keys that `openssl genrsa -traditional` and `openssl ecparam -genkey` write.
 *
 * @module
 */
import * as asn1js from "asn1js";
import { CertificateError } from "../errors.ts";
import { type KeyType, keyTypeOf } from "./key_type.ts";
import { asText, decodePem, describeSource, encodePem, looksLikePem } from "../cert/pem.ts";

/**
 * Options for {@link importPrivateKey}.
 *
 * @example Importing a CA key to write it out again
 * ```ts
 * import type { ImportPrivateKeyOptions } from "@mtls/mcp/pki";
 * const o: ImportPrivateKeyOptions = { extractable: true, source: "certs/ca.key" };
 * ```
 */
export interface ImportPrivateKeyOptions {
  /** Make the imported key extractable (needed to write it out again). @default {false} */
  extractable?: boolean;
  /** Names the input in error messages (usually a file path). @default {undefined} ("input") */
  source?: string;
}

/**
 * An imported private key and its key type.
 *
 * @example Using the key type
 * ```ts
 * import type { ImportedPrivateKey } from "@mtls/mcp/pki";
 * function describe(k: ImportedPrivateKey): string { return k.keyType; }
 * ```
 */
export interface ImportedPrivateKey {
  /** A WebCrypto signing key (`sign` usage). */
  privateKey: CryptoKey;
  /** Its key type. */
  keyType: KeyType;
}

const OID_RSA = "1.2.840.113549.1.1.1";
const OID_EC = "1.2.840.10045.2.1";
const OID_ED25519 = "1.3.101.112";
const CURVES: Record<string, string> = {
  "1.2.840.10045.3.1.7": "P-256",
  "1.3.132.0.34": "P-384",
};

/**
 * Imports a private key for signing: PEM (`PRIVATE KEY`, `RSA PRIVATE KEY`,
 * `EC PRIVATE KEY`; an `EC PARAMETERS` block before it is skipped) or DER in
 * any of those three encodings.
 *
 * @param input PEM text, or PEM or DER bytes
 * @param options extractability and the name used in messages
 * @returns the key and its {@link KeyType}
 * @throws {CertificateError} `invalid_pem`, `invalid_key` for unreadable input;
 * `unsupported_key` for encrypted keys and key types mcp-mtls does not support
 *
 * @example Importing a key written by exportPrivateKeyPem
 * ```ts
 * import { createRootCa, importPrivateKey } from "@mtls/mcp/pki";
 * const ca = await createRootCa({ exportable: true });
 * const { keyType } = await importPrivateKey(ca.privateKeyPem!);
 * console.log(keyType); // "ec-p256"
 * ```
 */
export async function importPrivateKey(
  input: string | Uint8Array,
  options: ImportPrivateKeyOptions = {},
): Promise<ImportedPrivateKey> {
  const { extractable = false } = options;
  const source = describeSource(options.source);
  const pkcs8 = toPkcs8(input, source);
  const { algorithm, oid } = importAlgorithm(pkcs8, source);
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, algorithm, extractable, ["sign"]);
  } catch (cause) {
    throw new CertificateError("invalid_key", `Cannot import the private key in ${source}`, {
      cause,
    });
  }
  const keyType = keyTypeOf(privateKey);
  if (keyType === undefined) {
    const rsaBits = (privateKey.algorithm as RsaHashedKeyAlgorithm).modulusLength;
    const what = oid === OID_RSA ? `RSA ${rsaBits}-bit` : privateKey.algorithm.name;
    throw new CertificateError(
      "unsupported_key",
      `Unsupported key type "${what}" in ${source}: use EC P-256/P-384, Ed25519 or RSA 2048/3072/4096`,
    );
  }
  return { privateKey, keyType };
}

/**
 * Exports a private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
 *
 * @param key an extractable private key
 * @returns the PEM text, ending with a newline
 * @throws {CertificateError} `invalid_key` when the key is not extractable
 *
 * @example Writing a key out
 * ```ts
 * import { createRootCa, exportPrivateKeyPem } from "@mtls/mcp/pki";
 * const ca = await createRootCa({ exportable: true });
 * const pem = await exportPrivateKeyPem(ca.privateKey);
 * console.log(pem.startsWith("-----BEGIN PRIVATE KEY-----")); // true
 * ```
 */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  if (key.type !== "private") {
    throw new CertificateError("invalid_key", `Expected a private key, got a "${key.type}" key`);
  }
  if (!key.extractable) {
    throw new CertificateError(
      "invalid_key",
      "Private key is not extractable: create it with { exportable: true }",
    );
  }
  return encodePem(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

function toPkcs8(input: string | Uint8Array, source: string): Uint8Array<ArrayBuffer> {
  if (typeof input !== "string" && !looksLikePem(input)) {
    return derToPkcs8(new Uint8Array(input), source);
  }
  const blocks = decodePem(asText(input), source).filter((b) => b.type !== "EC PARAMETERS");
  const block = blocks.find((b) => b.type.endsWith("PRIVATE KEY"));
  if (block === undefined) {
    const found = blocks.length ? ` (found "${blocks.map((b) => b.type).join('", "')}")` : "";
    throw new CertificateError("invalid_pem", `No PEM private key block in ${source}${found}`);
  }
  switch (block.type) {
    case "PRIVATE KEY":
      return block.der;
    case "RSA PRIVATE KEY":
      return wrapPkcs1(block.der);
    case "EC PRIVATE KEY":
      return wrapSec1(block.der, source);
    case "ENCRYPTED PRIVATE KEY":
      throw new CertificateError(
        "unsupported_key",
        `Encrypted private key in ${source} is not supported: decrypt it with "openssl pkey"`,
      );
    default:
      throw new CertificateError(
        "unsupported_key",
        `Unsupported PEM block "${block.type}" in ${source}`,
      );
  }
}

/** Tells PKCS#8, PKCS#1 and SEC1 apart by their first fields. */
function derToPkcs8(der: Uint8Array<ArrayBuffer>, source: string): Uint8Array<ArrayBuffer> {
  const items = parseSequence(der, source);
  if (items[1] instanceof asn1js.Sequence) return der;
  if (items[1] instanceof asn1js.Integer) return wrapPkcs1(der);
  if (items[1] instanceof asn1js.OctetString) return wrapSec1(der, source);
  throw new CertificateError("invalid_key", `Cannot parse ${source}: not a private key`);
}

function parseSequence(der: Uint8Array, source: string): asn1js.AsnType[] {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence)) {
    throw new CertificateError("invalid_key", `Cannot parse ${source}: not a private key`);
  }
  return parsed.result.valueBlock.value;
}

function pkcs8(algorithm: asn1js.AsnType[], key: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(
    new asn1js.Sequence({
      value: [
        new asn1js.Integer({ value: 0 }),
        new asn1js.Sequence({ value: algorithm }),
        new asn1js.OctetString({ valueHex: key }),
      ],
    }).toBER(),
  );
}

function wrapPkcs1(der: Uint8Array): Uint8Array<ArrayBuffer> {
  return pkcs8([new asn1js.ObjectIdentifier({ value: OID_RSA }), new asn1js.Null()], der);
}

/** SEC1 names its curve in the `[0]` field; PKCS#8 wants it in the algorithm. */
function wrapSec1(der: Uint8Array, source: string): Uint8Array<ArrayBuffer> {
  const params = parseSequence(der, source).find((item) =>
    item.idBlock.tagClass === 3 && item.idBlock.tagNumber === 0
  ) as asn1js.Constructed | undefined;
  const curve = params?.valueBlock.value[0];
  if (!(curve instanceof asn1js.ObjectIdentifier)) {
    throw new CertificateError(
      "unsupported_key",
      `EC private key in ${source} does not name its curve`,
    );
  }
  return pkcs8([new asn1js.ObjectIdentifier({ value: OID_EC }), curve], der);
}

function importAlgorithm(
  pkcs8: Uint8Array,
  source: string,
): { algorithm: Algorithm | EcKeyImportParams | RsaHashedImportParams; oid: string } {
  const items = parseSequence(pkcs8, source);
  const algId = items[1];
  const fields = algId instanceof asn1js.Sequence ? algId.valueBlock.value : [];
  const oid = fields[0] instanceof asn1js.ObjectIdentifier ? fields[0].valueBlock.toString() : "";
  if (oid === OID_RSA) {
    return {
      oid,
      algorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as RsaHashedImportParams,
    };
  }
  if (oid === OID_ED25519) return { oid, algorithm: { name: "Ed25519" } };
  if (oid === OID_EC) {
    const curveOid = fields[1] instanceof asn1js.ObjectIdentifier
      ? fields[1].valueBlock.toString()
      : "";
    const namedCurve = CURVES[curveOid];
    if (namedCurve === undefined) {
      throw new CertificateError(
        "unsupported_key",
        `Unsupported EC curve "${curveOid}" in ${source}: use P-256 or P-384`,
      );
    }
    return { oid, algorithm: { name: "ECDSA", namedCurve } as EcKeyImportParams };
  }
  throw new CertificateError(
    "unsupported_key",
    `Unsupported key algorithm "${oid || "unknown"}" in ${source}`,
  );
}

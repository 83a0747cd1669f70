/**
 * Key types: the algorithms mcp-mtls generates and signs with.
 *
 * @module
 */
import { CertificateError } from "../errors.ts";

/**
 * Every supported key type, in the order the CLI lists them.
 *
 * @example Listing the key types
 * ```ts
 * import { KEY_TYPES } from "@mtls/mcp/pki";
 * console.log(KEY_TYPES.join("|")); // "ec-p256|ec-p384|ed25519|rsa-2048|rsa-3072|rsa-4096"
 * ```
 */
export const KEY_TYPES: readonly KeyType[] = [
  "ec-p256",
  "ec-p384",
  "ed25519",
  "rsa-2048",
  "rsa-3072",
  "rsa-4096",
];

/**
 * A key type: ECDSA on P-256 (the default) or P-384, Ed25519, or RSA with a
 * 2048, 3072 or 4096-bit modulus.
 *
 * @example Choosing a key type
 * ```ts
 * import type { KeyType } from "@mtls/mcp/pki";
 * const k: KeyType = "ec-p256";
 * ```
 */
export type KeyType = "ec-p256" | "ec-p384" | "ed25519" | "rsa-2048" | "rsa-3072" | "rsa-4096";

/**
 * Checks that `value` names a supported key type.
 *
 * @param value text from a flag or a config file
 * @returns the key type
 * @throws {CertificateError} `invalid_argument` for anything else
 *
 * @example Validating a flag
 * ```ts
 * import { parseKeyType } from "@mtls/mcp/pki";
 * const keyType = parseKeyType("ed25519"); // "ed25519"
 * ```
 */
export function parseKeyType(value: string): KeyType {
  if ((KEY_TYPES as readonly string[]).includes(value)) return value as KeyType;
  throw new CertificateError(
    "invalid_argument",
    `Unknown key type "${value}": expected one of ${KEY_TYPES.join(", ")}`,
  );
}

/** WebCrypto generation parameters for `keyType`. */
export function keyGenParams(keyType: KeyType): EcKeyGenParams | RsaHashedKeyGenParams | Algorithm {
  switch (keyType) {
    case "ec-p256":
      return { name: "ECDSA", namedCurve: "P-256" } as EcKeyGenParams;
    case "ec-p384":
      return { name: "ECDSA", namedCurve: "P-384" } as EcKeyGenParams;
    case "ed25519":
      return { name: "Ed25519" };
    case "rsa-2048":
    case "rsa-3072":
    case "rsa-4096":
      return {
        name: "RSASSA-PKCS1-v1_5",
        modulusLength: Number(keyType.slice(4)),
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: "SHA-256",
      } as RsaHashedKeyGenParams;
  }
}

/** The signature algorithm a key of `keyType` signs certificates with. */
export function signingAlgorithm(keyType: KeyType): Algorithm | EcdsaParams {
  switch (keyType) {
    case "ec-p256":
      return { name: "ECDSA", hash: "SHA-256" } as EcdsaParams;
    case "ec-p384":
      return { name: "ECDSA", hash: "SHA-384" } as EcdsaParams;
    case "ed25519":
      return { name: "Ed25519" };
    default:
      return { name: "RSASSA-PKCS1-v1_5" };
  }
}

/**
 * The key type of a WebCrypto key, or `undefined` when mcp-mtls does not
 * support it (another curve, another RSA size, RSA-PSS).
 */
export function keyTypeOf(key: CryptoKey): KeyType | undefined {
  const alg = key.algorithm as Partial<EcKeyAlgorithm & RsaHashedKeyAlgorithm>;
  if (alg.name === "ECDSA") {
    if (alg.namedCurve === "P-256") return "ec-p256";
    if (alg.namedCurve === "P-384") return "ec-p384";
    return undefined;
  }
  if (alg.name === "Ed25519") return "ed25519";
  if (alg.name === "RSASSA-PKCS1-v1_5") {
    const candidate = `rsa-${alg.modulusLength}`;
    return (KEY_TYPES as readonly string[]).includes(candidate) ? candidate as KeyType : undefined;
  }
  return undefined;
}

/** Generates a signing key pair; the private key is extractable only when asked. */
export async function generateKeyPair(
  keyType: KeyType,
  extractable: boolean,
): Promise<CryptoKeyPair> {
  const pair = await crypto.subtle.generateKey(keyGenParams(keyType), extractable, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  return pair;
}

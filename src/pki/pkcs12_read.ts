/**
 * The steps of reading a PKCS#12 file after its MAC: unwrapping the PFX,
 * collecting certificate and key bags, and matching the key to its
 * certificate and importing it into WebCrypto. Apart from `fromPkcs12` so
 * that function reads as the outline of the format.
 *
 * @module
 */
import * as asn1js from "asn1js";
import {
  AuthenticatedSafe,
  type CertBag,
  EncryptedData,
  PFX,
  type PKCS8ShroudedKeyBag,
  SafeContents,
} from "pkijs";
import type { AlgorithmIdentifier, Attribute } from "pkijs";
import { createPrivateKey } from "node:crypto";
import { Buffer } from "node:buffer";
import { type Certificate, readCertificate } from "../cert/certificate.ts";
import { CertificateError } from "../errors.ts";
import { bytesEqual, OID, publicKeyOf, toArrayBuffer } from "./pkcs12_asn1.ts";
import { MAX_ITERATIONS } from "./pkcs12_kdf.ts";
import type { Pkcs12Contents, Pkcs12KeyType } from "./pkcs12.ts";

/** Builds the error for a damaged file or a wrong password, naming the file. */
export type Fail = (
  code: "invalid_der" | "bad_password",
  why: string,
  cause?: unknown,
) => CertificateError;

/** A certificate bag's DER and its `localKeyId` attribute. */
export interface CertEntry {
  der: Uint8Array;
  localKeyId?: Uint8Array;
}

/** A key bag's PKCS#8 (decrypted) and its `localKeyId` attribute. */
export interface KeyEntry {
  pkcs8: Uint8Array;
  localKeyId?: Uint8Array;
}

/** The refusal for a scheme, digest or content type we do not read. */
export function unsupported(what: string, thing: string): CertificateError {
  return new CertificateError(
    "unsupported_key",
    `Cannot open ${what}: ${thing} is not supported; re-export it with "openssl pkcs12 -export" (AES-256-CBC)`,
  );
}

/** Bounds an iteration count read from the file (see {@link MAX_ITERATIONS}). */
export function checkIterations(n: number, fail: Fail): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_ITERATIONS) {
    throw fail("invalid_der", `iteration count "${n}" is out of range (1 to ${MAX_ITERATIONS})`);
  }
  return n;
}

/** Parses the PFX and returns it with its authSafe bytes (what the MAC covers). */
export function parsePfx(data: Uint8Array, fail: Fail): { pfx: PFX; authSafe: Uint8Array } {
  try {
    const parsed = asn1js.fromBER(toArrayBuffer(data));
    if (parsed.offset === -1 || parsed.offset !== data.length) {
      throw new Error(parsed.offset === -1 ? parsed.result.error : "trailing bytes after the PFX");
    }
    const pfx = new PFX({ schema: parsed.result });
    if (pfx.authSafe.contentType !== OID.data) {
      throw new Error(`authSafe content type "${pfx.authSafe.contentType}" is not data`);
    }
    const authSafe = new Uint8Array((pfx.authSafe.content as asn1js.OctetString).getValue());
    return { pfx, authSafe };
  } catch (err) {
    throw fail("invalid_der", `not a valid PKCS#12 file (${(err as Error).message})`, err);
  }
}

/**
 * Collects the certificate and key bags of every SafeContents in the
 * authSafe, in file order, decrypting encrypted ones with `decrypt`.
 *
 * @param authSafe the authSafe bytes
 * @param decrypt decrypts one encrypted content or shrouded key bag
 * @param what the file, for messages
 * @returns the certificates and keys
 * @throws {CertificateError} `unsupported_key` for public-key privacy mode; whatever `decrypt` throws
 */
export async function readSafeContents(
  authSafe: Uint8Array,
  decrypt: (algorithm: AlgorithmIdentifier, ciphertext: Uint8Array) => Promise<Uint8Array>,
  what: string,
): Promise<{ certs: CertEntry[]; keys: KeyEntry[] }> {
  const certs: CertEntry[] = [];
  const keys: KeyEntry[] = [];
  for (const ci of AuthenticatedSafe.fromBER(toArrayBuffer(authSafe)).safeContents) {
    let bytes: Uint8Array;
    if (ci.contentType === OID.data) {
      bytes = (ci.content as asn1js.OctetString).getValue() as unknown as Uint8Array;
      bytes = new Uint8Array(bytes);
    } else if (ci.contentType === OID.encryptedData) {
      const eci = new EncryptedData({ schema: ci.content }).encryptedContentInfo;
      const ciphertext = new Uint8Array(eci.getEncryptedContent());
      bytes = await decrypt(eci.contentEncryptionAlgorithm, ciphertext);
    } else {
      throw unsupported(what, `content type "${ci.contentType}" (public-key privacy mode)`);
    }
    for (const bag of SafeContents.fromBER(toArrayBuffer(bytes)).safeBags) {
      const localKeyId = attributeBytes(bag.bagAttributes, OID.localKeyId);
      if (bag.bagId === OID.certBag) {
        const cb = bag.bagValue as CertBag;
        if (cb.certId !== OID.x509Certificate) continue;
        certs.push({
          der: new Uint8Array((cb.certValue as asn1js.OctetString).valueBlock.valueHexView),
          localKeyId,
        });
      } else if (bag.bagId === OID.shroudedKeyBag) {
        const kb = bag.bagValue as PKCS8ShroudedKeyBag;
        const ciphertext = new Uint8Array(kb.encryptedData.getValue());
        keys.push({ pkcs8: await decrypt(kb.encryptionAlgorithm, ciphertext), localKeyId });
      } else if (bag.bagId === OID.keyBag) {
        keys.push({ pkcs8: new Uint8Array(bag.bagValue.toSchema().toBER(false)), localKeyId });
      }
    }
  }
  return { certs, keys };
}

function attributeBytes(attrs: Attribute[] | undefined, type: string): Uint8Array | undefined {
  const value = attrs?.find((a) => a.type === type)?.values[0];
  return value instanceof asn1js.OctetString
    ? new Uint8Array(value.valueBlock.valueHexView)
    : undefined;
}

/**
 * Picks the certificate whose public key matches the first private key, keeps
 * the others as the chain, and imports the key.
 *
 * @param certs the certificate bags, in file order
 * @param keys the key bags, in file order
 * @param extractable import the key as extractable
 * @param what the file, for messages
 * @returns the contents `fromPkcs12` returns
 * @throws {CertificateError} `invalid_key`, `invalid_certificate`, `invalid_der`, `key_mismatch`, `unsupported_key`
 */
export async function assemble(
  certs: CertEntry[],
  keys: KeyEntry[],
  extractable: boolean,
  what: string,
): Promise<Pkcs12Contents> {
  if (keys.length === 0) {
    throw new CertificateError("invalid_key", `Cannot open ${what}: it holds no private key`);
  }
  if (certs.length === 0) {
    throw new CertificateError(
      "invalid_certificate",
      `Cannot open ${what}: it holds no certificate`,
    );
  }
  const { pkcs8 } = keys[0];
  let publicKey: Uint8Array;
  try {
    publicKey = publicKeyOf(pkcs8);
  } catch (err) {
    throw new CertificateError("invalid_key", `Cannot open ${what}: the private key is malformed`, {
      cause: err,
    });
  }
  let parsed: Certificate[];
  try {
    parsed = certs.map((c) => readCertificate(c.der));
  } catch (err) {
    throw new CertificateError("invalid_der", `Cannot open ${what}: a certificate is malformed`, {
      cause: err,
    });
  }
  const index = parsed.findIndex((c) => bytesEqual(c.publicKey.spki, publicKey));
  if (index === -1) {
    throw new CertificateError(
      "key_mismatch",
      `Cannot open ${what}: no certificate matches its private key`,
    );
  }
  const { privateKey, keyType } = await importPkcs8(pkcs8, extractable, what);
  return {
    certificate: parsed[index],
    chain: parsed.filter((_, i) => i !== index),
    privateKey,
    keyType,
  };
}

type AlgorithmIdentifierLike = Algorithm | EcKeyImportParams | RsaHashedImportParams;

async function importPkcs8(
  pkcs8: Uint8Array,
  extractable: boolean,
  what: string,
): Promise<{ privateKey: CryptoKey; keyType: Pkcs12KeyType }> {
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
  const details = key.asymmetricKeyDetails ?? {};
  let algorithm: AlgorithmIdentifierLike;
  let keyType: Pkcs12KeyType | undefined;
  if (key.asymmetricKeyType === "ec" && details.namedCurve === "prime256v1") {
    [algorithm, keyType] = [{ name: "ECDSA", namedCurve: "P-256" }, "ec-p256"];
  } else if (key.asymmetricKeyType === "ec" && details.namedCurve === "secp384r1") {
    [algorithm, keyType] = [{ name: "ECDSA", namedCurve: "P-384" }, "ec-p384"];
  } else if (key.asymmetricKeyType === "ed25519") {
    [algorithm, keyType] = [{ name: "Ed25519" }, "ed25519"];
  } else if (
    key.asymmetricKeyType === "rsa" && [2048, 3072, 4096].includes(details.modulusLength ?? 0)
  ) {
    algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    keyType = `rsa-${details.modulusLength}` as Pkcs12KeyType;
  } else {
    const desc = [key.asymmetricKeyType, details.namedCurve ?? details.modulusLength].filter(
      Boolean,
    ).join(" ");
    throw new CertificateError(
      "unsupported_key",
      `Cannot open ${what}: key type "${desc}" is not supported (use EC P-256/P-384, Ed25519 or RSA 2048/3072/4096)`,
    );
  }
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    toArrayBuffer(pkcs8),
    algorithm,
    extractable,
    ["sign"],
  );
  return { privateKey, keyType };
}

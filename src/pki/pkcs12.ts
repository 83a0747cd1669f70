/**
 * PKCS#12 (`.p12` / `.pfx`): a certificate, its chain and its private key in
 * one password-protected file, written the way OpenSSL 3 writes it by default
 * (PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC for both the key bag and the
 * certificate bag, and an HMAC-SHA256 MAC), and read back from our files and
 * from `openssl pkcs12 -export`, including `-legacy` files (3DES and RC2).
 *
 * @module
 */
import "reflect-metadata";
import { X509Certificate } from "@peculiar/x509";
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
import {
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
} from "node:crypto";
import { timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import { CertificateError } from "../errors.ts";

/** Key types a PKCS#12 file can hold here (the same names as the CLI's `--key`). */
export type Pkcs12KeyType =
  | "ec-p256"
  | "ec-p384"
  | "ed25519"
  | "rsa-2048"
  | "rsa-3072"
  | "rsa-4096";

/**
 * What goes into a PKCS#12 file.
 *
 * @example
 * ```ts
 * import type { Pkcs12Input } from "@mtls/mcp/pki";
 * function bundle(certificate: Uint8Array, privateKey: CryptoKey, chain: Uint8Array[]): Pkcs12Input {
 *   return { certificate, privateKey, chain, friendlyName: "client" };
 * }
 * ```
 */
export interface Pkcs12Input {
  /** The leaf certificate, parsed or as DER. */
  certificate: X509Certificate | Uint8Array;
  /** The leaf's private key; must be extractable. */
  privateKey: CryptoKey;
  /** Intermediate and root certificates to include, leaf excluded. @default {[]} */
  chain?: (X509Certificate | Uint8Array)[];
  /** Label shown by key stores (`friendlyName` attribute). @default {none} */
  friendlyName?: string;
}

/**
 * Options for {@link toPkcs12}.
 *
 * @example
 * ```ts
 * import type { ToPkcs12Options } from "@mtls/mcp/pki";
 * const o: ToPkcs12Options = { iterations: 100_000 };
 * ```
 */
export interface ToPkcs12Options {
  /** PBKDF2 and MAC iteration count; OpenSSL 3 uses 2048. @default {2048} */
  iterations?: number;
}

/**
 * Options for {@link fromPkcs12}.
 *
 * @example
 * ```ts
 * import type { FromPkcs12Options } from "@mtls/mcp/pki";
 * const o: FromPkcs12Options = { name: "certs/client.p12", extractable: true };
 * ```
 */
export interface FromPkcs12Options {
  /** File name used in error messages. @default {"PKCS#12 data"} */
  name?: string;
  /** Import the private key as extractable (to write it out again). @default {false} */
  extractable?: boolean;
}

/**
 * The contents of a PKCS#12 file.
 *
 * @example
 * ```ts
 * import type { Pkcs12Contents } from "@mtls/mcp/pki";
 * function summary(p12: Pkcs12Contents): string {
 *   return `${p12.certificate.subject} (${p12.keyType}) + ${p12.chain.length} chain certificates`;
 * }
 * ```
 */
export interface Pkcs12Contents {
  /** The certificate whose public key matches the private key. */
  certificate: X509Certificate;
  /** Every other certificate in the file, in file order. */
  chain: X509Certificate[];
  /** The private key, usable for signing (ECDSA, Ed25519 or RSASSA-PKCS1-v1_5 with SHA-256). */
  privateKey: CryptoKey;
  /** The key's type. */
  keyType: Pkcs12KeyType;
}

const OID = {
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  keyBag: "1.2.840.113549.1.12.10.1.1",
  shroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  hmacSha256: "1.2.840.113549.2.9",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
  sha256: "2.16.840.1.101.3.4.2.1",
} as const;

const HASHES: Record<string, { name: string; node: string; size: number; block: number }> = {
  "1.3.14.3.2.26": { name: "SHA-1", node: "sha1", size: 20, block: 64 },
  "2.16.840.1.101.3.4.2.1": { name: "SHA-256", node: "sha256", size: 32, block: 64 },
  "2.16.840.1.101.3.4.2.2": { name: "SHA-384", node: "sha384", size: 48, block: 128 },
  "2.16.840.1.101.3.4.2.3": { name: "SHA-512", node: "sha512", size: 64, block: 128 },
};
const PRFS: Record<string, string> = {
  "1.2.840.113549.2.7": "1.3.14.3.2.26",
  "1.2.840.113549.2.9": "2.16.840.1.101.3.4.2.1",
  "1.2.840.113549.2.10": "2.16.840.1.101.3.4.2.2",
  "1.2.840.113549.2.11": "2.16.840.1.101.3.4.2.3",
};
const PBES2_CIPHERS: Record<string, { node: string; keyLength: number }> = {
  "2.16.840.1.101.3.4.1.2": { node: "aes-128-cbc", keyLength: 16 },
  "2.16.840.1.101.3.4.1.22": { node: "aes-192-cbc", keyLength: 24 },
  "2.16.840.1.101.3.4.1.42": { node: "aes-256-cbc", keyLength: 32 },
  "1.2.840.113549.3.7": { node: "des-ede3-cbc", keyLength: 24 },
};
/** PKCS#12 v1 password-based encryption (`openssl pkcs12 -legacy`), all with SHA-1. */
const LEGACY_PBE: Record<string, { label: string; keyLength: number; rc2Bits?: number }> = {
  "1.2.840.113549.1.12.1.3": { label: "pbeWithSHAAnd3-KeyTripleDES-CBC", keyLength: 24 },
  "1.2.840.113549.1.12.1.4": { label: "pbeWithSHAAnd2-KeyTripleDES-CBC", keyLength: 16 },
  "1.2.840.113549.1.12.1.5": { label: "pbeWithSHAAnd128BitRC2-CBC", keyLength: 16, rc2Bits: 128 },
  "1.2.840.113549.1.12.1.6": { label: "pbeWithSHAAnd40BitRC2-CBC", keyLength: 5, rc2Bits: 40 },
};
/** Names for schemes we recognise but cannot decrypt (no RC4 or single DES in WebCrypto or Deno). */
const UNSUPPORTED_NAMES: Record<string, string> = {
  "1.2.840.113549.1.12.1.1": "pbeWithSHAAnd128BitRC4",
  "1.2.840.113549.1.12.1.2": "pbeWithSHAAnd40BitRC4",
  "1.2.840.113549.1.5.3": "pbeWithMD5AndDES-CBC",
  "1.2.840.113549.1.5.6": "pbeWithMD5AndRC2-CBC",
  "1.2.840.113549.1.5.10": "pbeWithSHA1AndDES-CBC",
  "1.2.840.113549.1.5.11": "pbeWithSHA1AndRC2-CBC",
};
/** Guards against a file that asks for billions of KDF rounds. */
const MAX_ITERATIONS = 10_000_000;

/**
 * Writes a certificate, its chain and its private key as a password-protected
 * PKCS#12 file: PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) for the key bag and
 * the certificate bag, and an HMAC-SHA256 MAC, which `openssl pkcs12`, Windows,
 * macOS and Java key stores all open.
 *
 * @param input the certificate, the extractable private key, optional chain and friendly name
 * @param password the file's password (not empty)
 * @param options iteration count
 * @returns the DER bytes of the file
 * @throws {CertificateError} `invalid_key` when the key is not extractable,
 *   `key_mismatch` when the key does not belong to the certificate,
 *   `invalid_der` for a malformed certificate, `invalid_argument` for an empty password
 *
 * @example Writing a .p12 for a client certificate
 * ```ts ignore
 * import { toPkcs12 } from "@mtls/mcp/pki";
 * declare const certificate: Uint8Array, privateKey: CryptoKey;
 * const p12 = await toPkcs12({ certificate, privateKey, friendlyName: "client" }, "s3cret");
 * await Deno.writeFile("client.p12", p12, { mode: 0o600 });
 * ```
 */
export async function toPkcs12(
  input: Pkcs12Input,
  password: string,
  options: ToPkcs12Options = {},
): Promise<Uint8Array> {
  const { iterations = 2048 } = options;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new CertificateError(
      "invalid_argument",
      `Iteration count must be an integer from 1 to ${MAX_ITERATIONS}, got "${iterations}"`,
    );
  }
  if (password === "") {
    throw new CertificateError("invalid_argument", "PKCS#12 password must not be empty");
  }
  if (!input.privateKey.extractable) {
    throw new CertificateError(
      "invalid_key",
      "Private key is not extractable: create or import it with extractable: true to write PKCS#12",
    );
  }
  const leaf = certificateDer(input.certificate);
  const chain = (input.chain ?? []).map(certificateDer);
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", input.privateKey));
  if (!bytesEqual(publicKeyOf(pkcs8), spkiOf(leaf))) {
    throw new CertificateError("key_mismatch", "Private key does not belong to the certificate");
  }
  const pw = new TextEncoder().encode(password);
  const localKeyId = new Uint8Array(createHash("sha1").update(leaf).digest());
  const attrs = bagAttributes(localKeyId, input.friendlyName);

  const certBags = [leaf, ...chain].map((der, i) =>
    safeBag(OID.certBag, sequence(oid(OID.x509Certificate), explicit0(octets(der))), i ? [] : attrs)
  );
  const certs = await pbes2Encrypt(sequence(...certBags).toBER(false), pw, iterations);
  const encryptedCerts = contentInfo(
    OID.encryptedData,
    sequence(
      new asn1js.Integer({ value: 0 }),
      sequence(oid(OID.data), certs.algorithm, implicit0(certs.data)),
    ),
  );
  const key = await pbes2Encrypt(pkcs8, pw, iterations);
  const keyBag = safeBag(OID.shroudedKeyBag, sequence(key.algorithm, octets(key.data)), attrs);
  const keys = contentInfo(OID.data, octets(sequence(keyBag).toBER(false)));

  const authSafe = new Uint8Array(sequence(encryptedCerts, keys).toBER(false));
  const macSalt = crypto.getRandomValues(new Uint8Array(16));
  const mac = pkcs12Mac(HASHES[OID.sha256], password, macSalt, iterations, authSafe);
  const pfx = sequence(
    new asn1js.Integer({ value: 3 }),
    contentInfo(OID.data, octets(authSafe)),
    sequence(
      sequence(sequence(oid(OID.sha256), new asn1js.Null()), octets(mac)),
      octets(macSalt),
      new asn1js.Integer({ value: iterations }),
    ),
  );
  return new Uint8Array(pfx.toBER(false));
}

/**
 * Reads a PKCS#12 file: the certificate matching the private key, the other
 * certificates, and the key imported into WebCrypto. Reads our files and those
 * of `openssl pkcs12 -export`, with default (AES) or `-legacy` (3DES, RC2)
 * encryption.
 *
 * @param data the file's bytes
 * @param password the file's password
 * @param options file name for messages; extractable key
 * @returns certificate, chain, private key and key type
 * @throws {CertificateError} `bad_password` for a wrong password, `invalid_der`
 *   for a damaged or truncated file, `unsupported_key` for an unsupported key or
 *   cipher, `key_mismatch` when no certificate matches the key
 *
 * @example Reading a .p12
 * ```ts ignore
 * import { fromPkcs12 } from "@mtls/mcp/pki";
 * const name = "client.p12";
 * const { certificate, privateKey, keyType } = await fromPkcs12(await Deno.readFile(name), "s3cret", {
 *   name,
 * });
 * console.log(certificate.subject, keyType, privateKey.algorithm.name);
 * ```
 */
export async function fromPkcs12(
  data: Uint8Array,
  password: string,
  options: FromPkcs12Options = {},
): Promise<Pkcs12Contents> {
  const { name, extractable = false } = options;
  const what = name === undefined ? "PKCS#12 data" : `PKCS#12 "${name}"`;
  const fail = (code: "invalid_der" | "bad_password", why: string, cause?: unknown) =>
    new CertificateError(code, `Cannot open ${what}: ${why}`, { cause });

  const { authSafe, pfx } = parsePfx(data, fail);
  if (pfx.macData) {
    const hash = HASHES[pfx.macData.mac.digestAlgorithm.algorithmId];
    if (!hash) {
      throw unsupported(what, `MAC digest "${pfx.macData.mac.digestAlgorithm.algorithmId}"`);
    }
    const iterations = checkIterations(pfx.macData.iterations ?? 1, fail);
    const expected = pfx.macData.mac.digest.valueBlock.valueHexView;
    const salt = pfx.macData.macSalt.valueBlock.valueHexView;
    const actual = pkcs12Mac(hash, password, salt, iterations, authSafe);
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
      throw fail("bad_password", "wrong password");
    }
  }

  const certs: { der: Uint8Array; localKeyId?: Uint8Array }[] = [];
  const keys: { pkcs8: Uint8Array; localKeyId?: Uint8Array }[] = [];
  const iterLimit = (n: number) => checkIterations(n, fail);
  const decrypt = (algorithm: AlgorithmIdentifier, ciphertext: Uint8Array) =>
    pbeDecrypt(algorithm, ciphertext, password, iterLimit, what, fail);
  try {
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
  } catch (err) {
    if (err instanceof CertificateError) throw err;
    throw fail("invalid_der", `malformed contents (${(err as Error).message})`, err);
  }
  return await assemble(certs, keys, extractable, what);
}

type Fail = (
  code: "invalid_der" | "bad_password",
  why: string,
  cause?: unknown,
) => CertificateError;

function parsePfx(data: Uint8Array, fail: Fail): { pfx: PFX; authSafe: Uint8Array } {
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

async function assemble(
  certs: { der: Uint8Array; localKeyId?: Uint8Array }[],
  keys: { pkcs8: Uint8Array; localKeyId?: Uint8Array }[],
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
  let parsed: X509Certificate[];
  try {
    parsed = certs.map((c) => new X509Certificate(toArrayBuffer(c.der)));
  } catch (err) {
    throw new CertificateError("invalid_der", `Cannot open ${what}: a certificate is malformed`, {
      cause: err,
    });
  }
  const index = parsed.findIndex((c) => bytesEqual(new Uint8Array(c.publicKey.rawData), publicKey));
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

type AlgorithmIdentifierLike = Algorithm | EcKeyImportParams | RsaHashedImportParams;

async function pbeDecrypt(
  algorithm: AlgorithmIdentifier,
  ciphertext: Uint8Array,
  password: string,
  checkIter: (n: number) => number,
  what: string,
  fail: Fail,
): Promise<Uint8Array> {
  const id = algorithm.algorithmId;
  let cipher: string, key: Uint8Array, iv: Uint8Array;
  const legacy = LEGACY_PBE[id];
  if (id === OID.pbes2) {
    const params = algorithm.algorithmParams as asn1js.Sequence;
    const [kdf, scheme] = params.valueBlock.value as asn1js.Sequence[];
    const kdfOid = (kdf.valueBlock.value[0] as asn1js.ObjectIdentifier).getValue();
    if (kdfOid !== OID.pbkdf2) throw unsupported(what, `key derivation "${kdfOid}"`);
    const schemeOid = (scheme.valueBlock.value[0] as asn1js.ObjectIdentifier).getValue();
    const spec = PBES2_CIPHERS[schemeOid];
    if (!spec) throw unsupported(what, `cipher "${schemeOid}"`);
    const kdfParams = (kdf.valueBlock.value[1] as asn1js.Sequence).valueBlock.value;
    const salt = (kdfParams[0] as asn1js.OctetString).valueBlock.valueHexView;
    const iterations = checkIter((kdfParams[1] as asn1js.Integer).valueBlock.valueDec);
    const prfNode = kdfParams.find((n) => n instanceof asn1js.Sequence) as
      | asn1js.Sequence
      | undefined;
    const prfOid = prfNode
      ? (prfNode.valueBlock.value[0] as asn1js.ObjectIdentifier).getValue()
      : "1.2.840.113549.2.7";
    const hash = HASHES[PRFS[prfOid]];
    if (!hash) throw unsupported(what, `PBKDF2 pseudo-random function "${prfOid}"`);
    const base = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(password),
      "PBKDF2",
      false,
      [
        "deriveBits",
      ],
    );
    key = new Uint8Array(
      await crypto.subtle.deriveBits(
        { name: "PBKDF2", hash: hash.name, salt: toArrayBuffer(salt), iterations },
        base,
        spec.keyLength * 8,
      ),
    );
    iv = (scheme.valueBlock.value[1] as asn1js.OctetString).valueBlock.valueHexView;
    cipher = spec.node;
  } else if (legacy) {
    const [saltNode, iterNode] = (algorithm.algorithmParams as asn1js.Sequence).valueBlock.value;
    const salt = (saltNode as asn1js.OctetString).valueBlock.valueHexView;
    const iterations = checkIter((iterNode as asn1js.Integer).valueBlock.valueDec);
    const sha1 = HASHES["1.3.14.3.2.26"];
    key = pkcs12Kdf(sha1, password, salt, 1, iterations, legacy.keyLength);
    iv = pkcs12Kdf(sha1, password, salt, 2, iterations, 8);
    if (legacy.rc2Bits) {
      try {
        return rc2CbcDecrypt(key, legacy.rc2Bits, iv, ciphertext);
      } catch (err) {
        throw fail("bad_password", "wrong password (decryption failed)", err);
      }
    }
    if (legacy.keyLength === 16) key = Uint8Array.of(...key, ...key.subarray(0, 8));
    cipher = "des-ede3-cbc";
  } else {
    throw unsupported(what, `encryption "${UNSUPPORTED_NAMES[id] ?? id}"`);
  }
  try {
    const d = createDecipheriv(cipher, key, iv);
    return new Uint8Array(Buffer.concat([d.update(ciphertext), d.final()]));
  } catch (err) {
    throw fail("bad_password", "wrong password (decryption failed)", err);
  }
}

function unsupported(what: string, thing: string): CertificateError {
  return new CertificateError(
    "unsupported_key",
    `Cannot open ${what}: ${thing} is not supported; re-export it with "openssl pkcs12 -export" (AES-256-CBC)`,
  );
}

function checkIterations(n: number, fail: Fail): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_ITERATIONS) {
    throw fail("invalid_der", `iteration count "${n}" is out of range (1 to ${MAX_ITERATIONS})`);
  }
  return n;
}

async function pbes2Encrypt(
  plaintext: ArrayBuffer | Uint8Array,
  password: Uint8Array,
  iterations: number,
): Promise<{ algorithm: asn1js.Sequence; data: Uint8Array }> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(16));
  const base = await crypto.subtle.importKey("raw", toArrayBuffer(password), "PBKDF2", false, [
    "deriveKey",
  ]);
  const key = await crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    base,
    { name: "AES-CBC", length: 256 },
    false,
    ["encrypt"],
  );
  const data = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-CBC", iv },
      key,
      toArrayBuffer(new Uint8Array(plaintext)),
    ),
  );
  const algorithm = sequence(
    oid(OID.pbes2),
    sequence(
      sequence(
        oid(OID.pbkdf2),
        sequence(
          octets(salt),
          new asn1js.Integer({ value: iterations }),
          sequence(oid(OID.hmacSha256), new asn1js.Null()),
        ),
      ),
      sequence(oid(OID.aes256Cbc), octets(iv)),
    ),
  );
  return { algorithm, data };
}

/** RFC 7292 appendix B.2: the PKCS#12 key derivation, over the BMPString password. */
function pkcs12Kdf(
  hash: { node: string; size: number; block: number },
  password: string,
  salt: Uint8Array,
  id: number,
  iterations: number,
  length: number,
): Uint8Array {
  const v = hash.block;
  const pw = new Uint8Array(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) {
    pw[i * 2] = password.charCodeAt(i) >> 8;
    pw[i * 2 + 1] = password.charCodeAt(i) & 0xff;
  }
  const fill = (src: Uint8Array) => {
    const out = new Uint8Array(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length];
    return out;
  };
  const I = Uint8Array.of(...fill(salt), ...fill(pw));
  const D = new Uint8Array(v).fill(id);
  const out = new Uint8Array(length);
  for (let done = 0; done < length;) {
    let A = new Uint8Array(createHash(hash.node).update(D).update(I).digest());
    for (let r = 1; r < iterations; r++) {
      A = new Uint8Array(createHash(hash.node).update(A).digest());
    }
    out.set(A.subarray(0, Math.min(A.length, length - done)), done);
    done += A.length;
    // I_j = (I_j + B + 1) mod 2^(8v), B being A repeated to v bytes.
    const B = fill(A).subarray(0, v);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k] + B[k] + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return out;
}

function pkcs12Mac(
  hash: { node: string; size: number; block: number },
  password: string,
  salt: Uint8Array,
  iterations: number,
  content: Uint8Array,
): Uint8Array {
  const key = pkcs12Kdf(hash, password, salt, 3, iterations, hash.size);
  return new Uint8Array(createHmac(hash.node, key).update(content).digest());
}

// RFC 2268. No runtime here ships RC2, and `openssl pkcs12 -legacy` encrypts certificates with it.
const PITABLE = Uint8Array.from(
  (
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2179a59f587b34f1361456d8d09817d32" +
    "bd8f40eb86b77b0bf09521225c6b4e8254d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626" +
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed708e8eade8052eef784aa72ac354d6a2a" +
    "961ad2715a1549744b9fd05e0418a4ecc2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731" +
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a90d38341bab33ffb0bb480c5fb9b1cd2e" +
    "c5f3db47e5a59c770aa62068fe7fc1ad"
  ).match(/../g)!,
  (h) => parseInt(h, 16),
);

function rc2CbcDecrypt(
  key: Uint8Array,
  bits: number,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  if (data.length === 0 || data.length % 8) {
    throw new Error("ciphertext is not a whole number of blocks");
  }
  const L = new Uint8Array(128);
  L.set(key);
  const t8 = (bits + 7) >> 3;
  const tm = 255 % (1 << (8 + bits - 8 * t8));
  for (let i = key.length; i < 128; i++) L[i] = PITABLE[(L[i - 1] + L[i - key.length]) & 255];
  L[128 - t8] = PITABLE[L[128 - t8] & tm];
  for (let i = 127 - t8; i >= 0; i--) L[i] = PITABLE[L[i + 1] ^ L[i + t8]];
  const K = new Uint16Array(64);
  for (let i = 0; i < 64; i++) K[i] = L[2 * i] | (L[2 * i + 1] << 8);
  const ror = (x: number, n: number) => ((x >>> n) | (x << (16 - n))) & 0xffff;
  const out = new Uint8Array(data.length);
  let prev = iv;
  for (let off = 0; off < data.length; off += 8) {
    const b = data.subarray(off, off + 8);
    let [r0, r1, r2, r3] = [b[0] | b[1] << 8, b[2] | b[3] << 8, b[4] | b[5] << 8, b[6] | b[7] << 8];
    let j = 63;
    for (let round = 15; round >= 0; round--) {
      if (round === 4 || round === 10) {
        r3 = (r3 - K[r2 & 63]) & 0xffff;
        r2 = (r2 - K[r1 & 63]) & 0xffff;
        r1 = (r1 - K[r0 & 63]) & 0xffff;
        r0 = (r0 - K[r3 & 63]) & 0xffff;
      }
      r3 = (ror(r3, 5) - K[j--] - (r2 & r1) - (~r2 & r0)) & 0xffff;
      r2 = (ror(r2, 3) - K[j--] - (r1 & r0) - (~r1 & r3)) & 0xffff;
      r1 = (ror(r1, 2) - K[j--] - (r0 & r3) - (~r0 & r2)) & 0xffff;
      r0 = (ror(r0, 1) - K[j--] - (r3 & r2) - (~r3 & r1)) & 0xffff;
    }
    const words = [r0, r1, r2, r3];
    for (let i = 0; i < 8; i++) out[off + i] = ((words[i >> 1] >> ((i & 1) * 8)) & 0xff) ^ prev[i];
    prev = b;
  }
  const pad = out[out.length - 1];
  if (pad < 1 || pad > 8 || out.subarray(out.length - pad).some((x) => x !== pad)) {
    throw new Error("bad padding");
  }
  return out.slice(0, out.length - pad);
}

function certificateDer(cert: X509Certificate | Uint8Array): Uint8Array {
  const der = cert instanceof Uint8Array ? cert : new Uint8Array(cert.rawData);
  try {
    if (cert instanceof Uint8Array) new X509Certificate(toArrayBuffer(der));
  } catch (err) {
    throw new CertificateError("invalid_der", "Certificate is not valid DER", { cause: err });
  }
  return der;
}

function spkiOf(certDer: Uint8Array): Uint8Array {
  return new Uint8Array(new X509Certificate(toArrayBuffer(certDer)).publicKey.rawData);
}

function publicKeyOf(pkcs8: Uint8Array): Uint8Array {
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
  return new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
}

function attributeBytes(attrs: Attribute[] | undefined, type: string): Uint8Array | undefined {
  const value = attrs?.find((a) => a.type === type)?.values[0];
  return value instanceof asn1js.OctetString
    ? new Uint8Array(value.valueBlock.valueHexView)
    : undefined;
}

function bagAttributes(localKeyId: Uint8Array, friendlyName?: string): asn1js.Sequence[] {
  const attrs = [sequence(oid(OID.localKeyId), new asn1js.Set({ value: [octets(localKeyId)] }))];
  if (friendlyName !== undefined) {
    attrs.unshift(
      sequence(
        oid(OID.friendlyName),
        new asn1js.Set({ value: [new asn1js.BmpString({ value: friendlyName })] }),
      ),
    );
  }
  return attrs;
}

function safeBag(
  bagId: string,
  value: asn1js.BaseBlock,
  attrs: asn1js.Sequence[],
): asn1js.Sequence {
  const parts: asn1js.BaseBlock[] = [oid(bagId), explicit0(value)];
  if (attrs.length) parts.push(new asn1js.Set({ value: attrs }));
  return sequence(...parts);
}

function contentInfo(type: string, content: asn1js.BaseBlock): asn1js.Sequence {
  return sequence(oid(type), explicit0(content));
}

function sequence(...value: asn1js.BaseBlock[]): asn1js.Sequence {
  return new asn1js.Sequence({ value });
}

function oid(value: string): asn1js.ObjectIdentifier {
  return new asn1js.ObjectIdentifier({ value });
}

function octets(bytes: ArrayBuffer | Uint8Array): asn1js.OctetString {
  return new asn1js.OctetString({ valueHex: toArrayBuffer(new Uint8Array(bytes)) });
}

function explicit0(value: asn1js.BaseBlock): asn1js.Constructed {
  return new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [value] });
}

function implicit0(bytes: Uint8Array): asn1js.Primitive {
  return new asn1js.Primitive({
    idBlock: { tagClass: 3, tagNumber: 0 },
    valueHex: toArrayBuffer(bytes),
  });
}

function toArrayBuffer(bytes: Uint8Array | ArrayBuffer): ArrayBuffer {
  if (bytes instanceof ArrayBuffer) return bytes;
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

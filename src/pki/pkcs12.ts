/**
 * PKCS#12 (`.p12` / `.pfx`): a certificate, its chain and its private key in
 * one password-protected file, written the way OpenSSL 3 writes it by default
 * (PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC for both the key bag and the
 * certificate bag, and an HMAC-SHA256 MAC), and read back from our files and
 * from `openssl pkcs12 -export`, including `-legacy` files (3DES and RC2).
 *
 * @module
 */
import * as asn1js from "asn1js";
import type { AlgorithmIdentifier } from "pkijs";
import { createHash, timingSafeEqual } from "node:crypto";
import { type Certificate, readCertificate } from "../cert/certificate.ts";
import { CertificateError } from "../errors.ts";
import {
  bytesEqual,
  contentInfo,
  explicit0,
  implicit0,
  octets,
  OID,
  oid,
  publicKeyOf,
  sequence,
} from "./pkcs12_asn1.ts";
import { HASHES, MAX_ITERATIONS, pkcs12Mac } from "./pkcs12_kdf.ts";
import { pbeDecrypt, pbes2Encrypt } from "./pkcs12_pbe.ts";
import {
  assemble,
  type CertEntry,
  checkIterations,
  type KeyEntry,
  parsePfx,
  readSafeContents,
  unsupported,
} from "./pkcs12_read.ts";

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
  /** The leaf certificate, read into the model or as DER. */
  certificate: Certificate | Uint8Array;
  /** The leaf's private key; must be extractable. */
  privateKey: CryptoKey;
  /** Intermediate and root certificates to include, leaf excluded. @default {[]} */
  chain?: (Certificate | Uint8Array)[];
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
 *   return `${p12.certificate.subject.text} (${p12.keyType}) + ${p12.chain.length} chain certificates`;
 * }
 * ```
 */
export interface Pkcs12Contents {
  /** The certificate whose public key matches the private key, read into the model. */
  certificate: Certificate;
  /** Every other certificate in the file, in file order. */
  chain: Certificate[];
  /** The private key, usable for signing (ECDSA, Ed25519 or RSASSA-PKCS1-v1_5 with SHA-256). */
  privateKey: CryptoKey;
  /** The key's type. */
  keyType: Pkcs12KeyType;
}

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
  const leaf = certificateOf(input.certificate);
  const chain = (input.chain ?? []).map((c) => certificateOf(c).der);
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", input.privateKey));
  if (!bytesEqual(publicKeyOf(pkcs8), leaf.publicKey.spki)) {
    throw new CertificateError("key_mismatch", "Private key does not belong to the certificate");
  }
  const pw = new TextEncoder().encode(password);
  const localKeyId = new Uint8Array(createHash("sha1").update(leaf.der).digest());
  const attrs = bagAttributes(localKeyId, input.friendlyName);

  const certBags = [leaf.der, ...chain].map((der, i) =>
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
 * console.log(certificate.subject.text, keyType, privateKey.algorithm.name);
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

  const iterLimit = (n: number) => checkIterations(n, fail);
  const decrypt = (algorithm: AlgorithmIdentifier, ciphertext: Uint8Array) =>
    pbeDecrypt(algorithm, ciphertext, password, iterLimit, what, fail);
  let certs: CertEntry[], keys: KeyEntry[];
  try {
    ({ certs, keys } = await readSafeContents(authSafe, decrypt, what));
  } catch (err) {
    if (err instanceof CertificateError) throw err;
    throw fail("invalid_der", `malformed contents (${(err as Error).message})`, err);
  }
  return await assemble(certs, keys, extractable, what);
}

/** `cert` read into the model; DER that is not a certificate is refused before anything is written. */
function certificateOf(cert: Certificate | Uint8Array): Certificate {
  if (!(cert instanceof Uint8Array)) return cert;
  try {
    return readCertificate(cert);
  } catch (err) {
    throw new CertificateError("invalid_der", "Certificate is not valid DER", { cause: err });
  }
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

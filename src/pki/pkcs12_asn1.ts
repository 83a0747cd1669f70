/**
 * The object identifiers and small DER builders that both the PKCS#12 writer
 * and its PBES2 encryption use, in one place so neither spells them twice.
 *
 * @module
 */
import * as asn1js from "asn1js";
import { createPrivateKey, createPublicKey, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";

/** Object identifiers of the PKCS#12 structures and the algorithms we write. */
export const OID = {
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

/** A PKCS#7 ContentInfo: the content type and the content under `[0] EXPLICIT`. */
export function contentInfo(type: string, content: asn1js.BaseBlock): asn1js.Sequence {
  return sequence(oid(type), explicit0(content));
}

/** A DER SEQUENCE of `value`. */
export function sequence(...value: asn1js.BaseBlock[]): asn1js.Sequence {
  return new asn1js.Sequence({ value });
}

/** A DER OBJECT IDENTIFIER. */
export function oid(value: string): asn1js.ObjectIdentifier {
  return new asn1js.ObjectIdentifier({ value });
}

/** A DER OCTET STRING holding a copy of `bytes`. */
export function octets(bytes: ArrayBuffer | Uint8Array): asn1js.OctetString {
  return new asn1js.OctetString({ valueHex: toArrayBuffer(new Uint8Array(bytes)) });
}

/** `value` under a context-specific `[0] EXPLICIT` tag. */
export function explicit0(value: asn1js.BaseBlock): asn1js.Constructed {
  return new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [value] });
}

/** `bytes` as a primitive context-specific `[0] IMPLICIT` value. */
export function implicit0(bytes: Uint8Array): asn1js.Primitive {
  return new asn1js.Primitive({
    idBlock: { tagClass: 3, tagNumber: 0 },
    valueHex: toArrayBuffer(bytes),
  });
}

/** The exact bytes of a view as their own ArrayBuffer (WebCrypto and asn1js want one). */
export function toArrayBuffer(bytes: Uint8Array | ArrayBuffer): ArrayBuffer {
  if (bytes instanceof ArrayBuffer) return bytes;
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Constant-time equality of two byte strings of any length. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The DER SubjectPublicKeyInfo of a PKCS#8 private key, to match it to a certificate. */
export function publicKeyOf(pkcs8: Uint8Array): Uint8Array {
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
  return new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
}

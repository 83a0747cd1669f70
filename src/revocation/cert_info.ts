/**
 * The few certificate fields revocation checking needs, read straight from
 * the DER (raw names, keys and serial exactly as signed), so the checker does
 * not depend on an X.509 object model.
 *
 * @module
 */
import {
  children,
  content,
  DerError,
  expectTlv,
  pemOrDer,
  readOid,
  readTime,
  readTlv,
  serialHexAt,
  type Tlv,
  toHex,
  whole,
} from "./der.ts";
import { algorithmOid } from "./signature.ts";

/** Parsed certificate fields used by CRL and OCSP checks. */
export interface CertInfo {
  /** The whole certificate. */
  der: Uint8Array;
  /** Normalized serial hex. */
  serial: string;
  /** Serial INTEGER content octets. */
  serialBytes: Uint8Array;
  /** Issuer Name, DER. */
  issuer: Uint8Array;
  /** Subject Name, DER. */
  subject: Uint8Array;
  /** SubjectPublicKeyInfo, DER. */
  spki: Uint8Array;
  /** The subjectPublicKey BIT STRING bytes (what OCSP key hashes cover). */
  publicKey: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** The signed part and its signature, to check who issued it. */
  tbs: Uint8Array;
  sigOid: string;
  signature: Uint8Array;
  /** OCSP responder URLs from Authority Information Access. */
  ocspUrls: string[];
  /** URLs from CRL Distribution Points. */
  crlUrls: string[];
  /** Subject Key Identifier, hex. */
  subjectKeyId?: string;
  /** Key usage bits (index per RFC 5280), when the extension is present. */
  keyUsage?: Set<number>;
  /** Extended key usage OIDs, when the extension is present. */
  extKeyUsage?: Set<string>;
  /** Lower-case hex of `spki`, for cache keys. */
  spkiHex: string;
}

/** Cached parses, keyed by identity of the DER buffer (certificates repeat per handshake). */
const cache = new WeakMap<Uint8Array, CertInfo>();

function bitStringBytes(b: Uint8Array, t: Tlv): Uint8Array {
  if (t.tag !== 0x03) throw new DerError(`expected a BIT STRING at offset ${t.start}`);
  return b.subarray(t.valueStart + 1, t.end);
}

function uris(b: Uint8Array, names: Tlv): string[] {
  return children(b, names).filter((n) => n.tag === 0x86).map((n) =>
    new TextDecoder().decode(content(b, n))
  );
}

function readExtensions(b: Uint8Array, ext: Tlv, info: ExtFields): void {
  for (const e of children(b, expectTlv(b, ext.valueStart, 0x30, ext.end))) {
    const parts = children(b, e);
    const oid = readOid(b, parts[0]);
    const val = parts[parts.length - 1];
    const inner = inOctets(b, val);
    switch (oid) {
      case "1.3.6.1.5.5.7.1.1": // Authority Information Access
        for (const ad of children(b, inner)) {
          const [method, name] = children(b, ad);
          if (readOid(b, method) === "1.3.6.1.5.5.7.48.1" && name.tag === 0x86) {
            info.ocspUrls.push(new TextDecoder().decode(content(b, name)));
          }
        }
        break;
      case "2.5.29.31": // CRL Distribution Points
        for (const dp of children(b, inner)) {
          const dpName = children(b, dp).find((t) => t.tag === 0xa0);
          const full = dpName && children(b, dpName).find((t) => t.tag === 0xa0);
          if (full) info.crlUrls.push(...uris(b, full));
        }
        break;
      case "2.5.29.14":
        info.subjectKeyId = toHex(content(b, inner));
        break;
      case "2.5.29.15": {
        const bits = bitStringBytes(b, inner);
        info.keyUsage = new Set();
        for (let i = 0; i < bits.length * 8; i++) {
          if (bits[i >> 3] & (0x80 >> (i & 7))) info.keyUsage.add(i);
        }
        break;
      }
      case "2.5.29.37":
        info.extKeyUsage = new Set(children(b, inner).map((t) => readOid(b, t)));
        break;
    }
  }
}

/** The node inside an extension's OCTET STRING. */
function inOctets(b: Uint8Array, octets: Tlv): Tlv {
  if (octets.tag !== 0x04) throw new DerError(`expected an OCTET STRING at offset ${octets.start}`);
  return readTlv(b, octets.valueStart, octets.end);
}

type ExtFields = Pick<
  CertInfo,
  "ocspUrls" | "crlUrls" | "subjectKeyId" | "keyUsage" | "extKeyUsage"
>;

/**
 * Fields are read on first use: the handshake path needs only the serial and
 * issuer, and every allocation per connection shows up as GC time.
 */
class LazyCertInfo implements CertInfo {
  readonly der: Uint8Array;
  readonly serial: string;
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly spki: Uint8Array;
  readonly tbs: Uint8Array;
  #serialT: Tlv;
  #validity: Tlv;
  #spkiT: Tlv;
  #sigAlgT: Tlv;
  #sigT: Tlv;
  #extT?: Tlv;
  #ext?: ExtFields;
  #spkiHex?: string;

  constructor(der: Uint8Array) {
    this.der = der;
    const top = expectTlv(der, 0, 0x30);
    const tbsT = readTlv(der, top.valueStart, top.end);
    if (tbsT.tag !== 0x30) throw new DerError("not a certificate");
    this.#sigAlgT = readTlv(der, tbsT.end, top.end);
    this.#sigT = readTlv(der, this.#sigAlgT.end, top.end);
    let f = children(der, tbsT);
    if (f[0]?.tag === 0xa0) f = f.slice(1);
    const [serialT, , issuerT, validityT, subjectT, spkiT] = f;
    if (!spkiT || serialT.tag !== 0x02 || spkiT.tag !== 0x30) {
      throw new DerError("not a certificate");
    }
    this.#serialT = serialT;
    this.#validity = validityT;
    this.#spkiT = spkiT;
    this.#extT = f.find((t) => t.tag === 0xa3);
    this.serial = serialHexAt(der, serialT.valueStart, serialT.end);
    this.issuer = whole(der, issuerT);
    this.subject = whole(der, subjectT);
    this.spki = whole(der, spkiT);
    this.tbs = whole(der, tbsT);
  }

  get serialBytes(): Uint8Array {
    return content(this.der, this.#serialT);
  }
  get publicKey(): Uint8Array {
    return bitStringBytes(this.der, children(this.der, this.#spkiT)[1]);
  }
  get spkiHex(): string {
    return this.#spkiHex ??= toHex(this.spki);
  }
  get notBefore(): Date {
    return readTime(this.der, children(this.der, this.#validity)[0]);
  }
  get notAfter(): Date {
    return readTime(this.der, children(this.der, this.#validity)[1]);
  }
  get sigOid(): string {
    return algorithmOid(whole(this.der, this.#sigAlgT));
  }
  get signature(): Uint8Array {
    return bitStringBytes(this.der, this.#sigT);
  }
  #exts(): ExtFields {
    if (!this.#ext) {
      const x: ExtFields = { ocspUrls: [], crlUrls: [] };
      if (this.#extT) readExtensions(this.der, this.#extT, x);
      this.#ext = x;
    }
    return this.#ext;
  }
  get ocspUrls(): string[] {
    return this.#exts().ocspUrls;
  }
  get crlUrls(): string[] {
    return this.#exts().crlUrls;
  }
  get subjectKeyId(): string | undefined {
    return this.#exts().subjectKeyId;
  }
  get keyUsage(): Set<number> | undefined {
    return this.#exts().keyUsage;
  }
  get extKeyUsage(): Set<string> | undefined {
    return this.#exts().extKeyUsage;
  }
}

/**
 * Parses a certificate (DER bytes or PEM text). Throws {@link DerError} when
 * it is not a certificate.
 */
export function certInfo(input: Uint8Array | string): CertInfo {
  if (typeof input !== "string") {
    const hit = cache.get(input);
    if (hit) return hit;
  }
  const info = new LazyCertInfo(pemOrDer(input, "CERTIFICATE"));
  if (typeof input !== "string") cache.set(input, info);
  return info;
}

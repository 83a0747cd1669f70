/**
 * The one certificate model: every module reads certificates through
 * {@link readCertificate}, which parses a DER once and remembers it (by its
 * SHA-256) so a certificate seen on every handshake is parsed once.
 *
 * Built on the project's one DER reader (`./der.ts`), not on an ASN.1
 * library: reading a client certificate costs ~10 µs with it against
 * ~630 µs with `@peculiar/asn1-schema` or `@peculiar/x509` and ~800 µs with
 * `pkijs` (`deno run -A bench/cert_parse.ts`), and a new client's admission
 * must not pay that. Every field is read at once (a malformed certificate
 * fails in `readCertificate`, never later in a getter); only the SPKI pin's
 * hash waits for first use.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { CertificateError } from "../errors.ts";
import { LruMap } from "../limits/lru.ts";
import {
  bytesEqual,
  children,
  content,
  DerError,
  expectTlv,
  readTime,
  readTlv,
  toHex,
  whole,
} from "./der.ts";
import { type DistinguishedName, readName } from "./names.ts";
import { type CertificateExtensions, readExtensions } from "./extensions.ts";
import { type PublicKeyInfo, readPublicKey } from "./public_key.ts";
import { pemOrDerItems } from "./pem.ts";
import { type SignatureAlgorithm, signatureAlgorithm } from "./algorithms.ts";

/**
 * A parsed X.509 certificate: plain data, the same on Deno, Node.js and Bun.
 *
 * @example
 * ```ts ignore
 * import { readCertificate } from "@mtls/mcp/cert";
 * const cert = readCertificate(await Deno.readFile("certs/client.crt"));
 * console.log(cert.subject.text, cert.subjectAltNames.dns, cert.notAfter);
 * ```
 */
export interface Certificate extends CertificateExtensions {
  /** The whole certificate, DER. */
  readonly der: Uint8Array;
  /** The signed part (tbsCertificate), DER. */
  readonly tbs: Uint8Array;
  /** X.509 version: 1, 2 or 3. */
  readonly version: number;
  /** Serial number, uppercase hex without leading zero bytes (as OpenSSL prints it). */
  readonly serialNumber: string;
  /** The serial INTEGER's content octets, as signed. */
  readonly serialBytes: Uint8Array;
  /** Subject name. */
  readonly subject: DistinguishedName;
  /** Issuer name. */
  readonly issuer: DistinguishedName;
  /** Start of validity. */
  readonly notBefore: Date;
  /** End of validity. */
  readonly notAfter: Date;
  /** The subject public key. */
  readonly publicKey: PublicKeyInfo;
  /** The outer signature algorithm. */
  readonly signatureAlgorithm: SignatureAlgorithm;
  /** The signature value (BIT STRING content without the unused-bits octet). */
  readonly signature: Uint8Array;
  /** SHA-256 of the DER, lowercase hex without separators. */
  readonly fingerprint: string;
  /** `sha256/<base64>` of the SubjectPublicKeyInfo DER (the SPKI pin). */
  readonly spkiPin: string;
  /** `cert-sha256/<hex>` of the DER (the certificate pin). */
  readonly certPin: string;
  /** Whether subject and issuer names are the same bytes (self-issued). */
  readonly selfIssued: boolean;
}

function invalid(why: string): CertificateError {
  return new CertificateError("invalid_der", `Cannot read certificate DER: ${why}`);
}

const REASONS: Record<string, string> = {
  truncated: "truncated element",
  high_tag: "unsupported high tag number",
  length: "bad length",
  overrun: "element overruns its parent",
};

class ParsedCertificate implements Certificate {
  readonly der: Uint8Array;
  readonly tbs: Uint8Array;
  readonly version: number;
  readonly serialNumber: string;
  readonly serialBytes: Uint8Array;
  readonly subject: DistinguishedName;
  readonly issuer: DistinguishedName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: PublicKeyInfo;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly signature: Uint8Array;
  readonly fingerprint: string;
  readonly selfIssued: boolean;
  readonly extensions: CertificateExtensions["extensions"];
  readonly subjectAltNames: CertificateExtensions["subjectAltNames"];
  readonly basicConstraints: CertificateExtensions["basicConstraints"];
  readonly keyUsage: CertificateExtensions["keyUsage"];
  readonly extendedKeyUsage: CertificateExtensions["extendedKeyUsage"];
  readonly subjectKeyId: CertificateExtensions["subjectKeyId"];
  readonly authorityKeyId: CertificateExtensions["authorityKeyId"];
  readonly ocspUrls: CertificateExtensions["ocspUrls"];
  readonly caIssuerUrls: CertificateExtensions["caIssuerUrls"];
  readonly crlUrls: CertificateExtensions["crlUrls"];
  readonly criticalExtensions: CertificateExtensions["criticalExtensions"];
  readonly nameConstraints: CertificateExtensions["nameConstraints"];
  readonly hasPolicyConstraints: boolean;
  #spkiPin?: string;

  /** Reads every field now, so a malformed certificate fails here and nowhere later. */
  constructor(der: Uint8Array, fingerprint: string) {
    this.der = der;
    this.fingerprint = fingerprint;
    const top = expectTlv(der, 0, 0x30);
    if (top.end !== der.length) throw new DerError("trailing bytes after the certificate");
    const tbs = expectTlv(der, top.valueStart, 0x30, top.end);
    const sigAlg = expectTlv(der, tbs.end, 0x30, top.end);
    const sig = expectTlv(der, sigAlg.end, 0x03, top.end);
    let f = children(der, tbs);
    let version = 1;
    if (f[0]?.tag === 0xa0) {
      version = (content(der, readTlv(der, f[0].valueStart, f[0].end))[0] ?? 0) + 1;
      f = f.slice(1);
    }
    const [serial, , issuer, validity, subject, spki] = f;
    if (
      !spki || serial.tag !== 0x02 || issuer.tag !== 0x30 || validity.tag !== 0x30 ||
      subject.tag !== 0x30 || spki.tag !== 0x30
    ) throw new DerError("not a certificate");
    this.version = version;
    this.tbs = whole(der, tbs);
    this.serialBytes = content(der, serial);
    let s = this.serialBytes;
    while (s.length > 1 && s[0] === 0) s = s.subarray(1);
    this.serialNumber = toHex(s).toUpperCase();
    this.subject = readName(der, subject);
    this.issuer = readName(der, issuer);
    this.selfIssued = bytesEqual(this.subject.der, this.issuer.der);
    const [from, to] = children(der, validity);
    this.notBefore = readTime(der, from);
    this.notAfter = readTime(der, to);
    this.publicKey = readPublicKey(der, spki);
    this.signatureAlgorithm = signatureAlgorithm(der, sigAlg);
    this.signature = der.subarray(sig.valueStart + 1, sig.end);
    const ext = readExtensions(der, f.slice(6).find((t) => t.tag === 0xa3));
    this.extensions = ext.extensions;
    this.subjectAltNames = ext.subjectAltNames;
    this.basicConstraints = ext.basicConstraints;
    this.keyUsage = ext.keyUsage;
    this.extendedKeyUsage = ext.extendedKeyUsage;
    this.subjectKeyId = ext.subjectKeyId;
    this.authorityKeyId = ext.authorityKeyId;
    this.ocspUrls = ext.ocspUrls;
    this.caIssuerUrls = ext.caIssuerUrls;
    this.crlUrls = ext.crlUrls;
    this.criticalExtensions = ext.criticalExtensions;
    this.nameConstraints = ext.nameConstraints;
    this.hasPolicyConstraints = ext.hasPolicyConstraints;
  }

  get spkiPin(): string {
    return this.#spkiPin ??= `sha256/${
      createHash("sha256").update(this.publicKey.spki).digest("base64")
    }`;
  }
  get certPin(): string {
    return `cert-sha256/${this.fingerprint}`;
  }
  toJSON(): Record<string, unknown> {
    return {
      subject: this.subject.text,
      issuer: this.issuer.text,
      serialNumber: this.serialNumber,
      notBefore: this.notBefore.toISOString(),
      notAfter: this.notAfter.toISOString(),
      fingerprint: this.fingerprint,
    };
  }
}

/** Parsed certificates by SHA-256 of their DER, the 4,096 most recently used (a few KiB each). */
const PARSED = new LruMap<ParsedCertificate>({ max: 4096 });
/** The same, by buffer identity: the TLS stack hands over the same bytes per handshake. */
const BY_BUFFER = new WeakMap<Uint8Array, ParsedCertificate>();

/**
 * Reads one certificate from DER bytes (or PEM text holding one
 * `CERTIFICATE` block), remembered by its SHA-256: the same DER is parsed once.
 *
 * @throws {CertificateError} `invalid_der` when the bytes are not a
 * certificate, `invalid_pem` for malformed PEM or a PEM without a certificate
 *
 * @example
 * ```ts
 * import { readCertificate } from "@mtls/mcp/cert";
 * try {
 *   readCertificate(new Uint8Array([0x30, 0x00]));
 * } catch (e) {
 *   console.log((e as Error).message); // "Cannot read certificate DER: not a certificate"
 * }
 * ```
 */
export function readCertificate(input: Uint8Array | string): Certificate {
  if (typeof input !== "string") {
    const hit = BY_BUFFER.get(input);
    if (hit) return hit;
  }
  // DER starts with a SEQUENCE tag; anything else is looked at as PEM text.
  const items = typeof input !== "string" && input[0] === 0x30
    ? [input]
    : pemOrDerItems(input, "CERTIFICATE", "input");
  if (items.length === 0) {
    throw new CertificateError("invalid_pem", "No CERTIFICATE block in PEM input");
  }
  const der = items[0];
  const fingerprint = createHash("sha256").update(der).digest("hex");
  let cert = PARSED.get(fingerprint);
  if (!cert) {
    try {
      cert = new ParsedCertificate(der, fingerprint);
    } catch (e) {
      if (e instanceof DerError) throw invalid(REASONS[e.kind] ?? e.message);
      throw e;
    }
    PARSED.set(fingerprint, cert);
  }
  if (typeof input !== "string") BY_BUFFER.set(input, cert);
  return cert;
}

/**
 * Every certificate in PEM text (all `CERTIFICATE` blocks, in order) or one
 * DER certificate.
 *
 * @throws {CertificateError} as {@link readCertificate}
 *
 * @example
 * ```ts
 * import { readCertificates } from "@mtls/mcp/cert";
 * console.log(readCertificates("no PEM here").length); // 0
 * ```
 */
export function readCertificates(input: Uint8Array | string): Certificate[] {
  return pemOrDerItems(input, "CERTIFICATE", "input").map((der) => readCertificate(der));
}

/**
 * The DER of `cert` as a `node:buffer` Buffer (what `node:tls` options take).
 *
 * @example
 * ```ts ignore
 * tls.connect({ ca: [derBuffer(caCert)] });
 * ```
 */
export function derBuffer(cert: Certificate): Buffer {
  return Buffer.from(cert.der.buffer, cert.der.byteOffset, cert.der.byteLength);
}

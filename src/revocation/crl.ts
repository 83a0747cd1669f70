/**
 * Loading and verifying a CRL. The revoked list is scanned once into a `Map`
 * of normalized serial to entry offset, so loading makes no per-entry
 * objects and each lookup is O(1); an entry's date and reason are decoded
 * only when its serial is hit.
 *
 * Why the DER reader's primitives (`../cert/der.ts`) and not pkijs, as OCSP
 * uses: a CRL can hold 100k entries or more, and this one lean pass loads
 * 100,000 entries (4.7 MB) in ~90-160 ms with an ~8 MB heap delta and
 * 1,000,000 in ~1.4-2.2 s with ~74 MB, and answers a miss in ~40-120 ns
 * (`deno run -A bench/revocation.ts`, recorded in bench/RESULTS.md under
 * "revocation"); pkijs builds an object tree per entry. Certificates (the
 * issuer) are read through the model (`readCertificate`), never here.
 *
 * @module
 */
import type { SignatureAlgorithm } from "../cert/algorithms.ts";
import { type Certificate, readCertificate } from "../cert/certificate.ts";
import {
  bytesEqual,
  children,
  content,
  DerError,
  expectTlv,
  readOid,
  readTime,
  readTlv,
  toHex,
  whole,
} from "../cert/der.ts";
import { KEY_USAGE } from "../cert/extensions.ts";
import type { PublicKeyInfo } from "../cert/public_key.ts";
import { RevocationError } from "../errors.ts";
import {
  pemOrDer,
  readSigned,
  type SignedParts,
  unsupportedAlgorithm,
  verifySigned,
} from "./der.ts";
import { normalizeSerial, serialHexAt } from "./serial.ts";
import { REVOCATION_REASONS, type RevocationReason } from "./types.ts";

/**
 * One revoked entry found in a CRL.
 *
 * @example
 * ```ts
 * import type { CrlEntry } from "@mtls/mcp/revocation";
 * const e: CrlEntry = { serial: "1a", revokedAt: new Date(), reason: "keyCompromise" };
 * ```
 */
export interface CrlEntry {
  /** Normalized serial hex. */
  serial: string;
  /** Revocation date. */
  revokedAt: Date;
  /** Reason, when the entry carries a reasonCode extension. */
  reason?: RevocationReason;
}

// CRL extensions we understand; any other critical one makes the CRL unusable (RFC 5280 §5.2).
const KNOWN_CRL_EXTENSIONS = new Set(["2.5.29.20", "2.5.29.35", "2.5.29.28"]);

/**
 * A parsed CRL. Its signature is checked separately with {@link verifyCrl},
 * since the issuer certificate may only be known at check time.
 *
 * @example Loading and querying a CRL
 * ```ts ignore
 * import { parseCrl, verifyCrl } from "@mtls/mcp/revocation";
 * const crl = parseCrl(await Deno.readFile("certs/ca.crl"), "certs/ca.crl");
 * await verifyCrl(crl, await Deno.readFile("certs/ca.crt"));
 * console.log(crl.lookup("1a")?.reason);
 * ```
 */
export class ParsedCrl {
  /** Where it came from (path or URL), for messages. */
  readonly source: string;
  /** The CRL, DER. */
  readonly der!: Uint8Array;
  /** Issuer Name, DER. */
  readonly issuer!: Uint8Array;
  /** thisUpdate. */
  readonly thisUpdate!: Date;
  /** nextUpdate, when present. */
  readonly nextUpdate?: Date;
  /** CRL number, when present. */
  readonly crlNumber?: bigint;
  /** Authority Key Identifier, hex, when present. */
  readonly authorityKeyId?: string;
  /** The algorithm of the CRL's signature. */
  readonly signatureAlgorithm!: SignatureAlgorithm;
  /**
   * The SPKI pin (`sha256/<base64>`) of the key whose signature check
   * passed, once {@link verifyCrl} succeeded.
   */
  verifiedBy?: string;
  // Definitely assigned: every failing path in the constructor throws.
  readonly #signed!: SignedParts;
  readonly #entries: Map<string, number> = new Map();

  /** Parses `input` (DER or PEM); throws `crl_invalid` naming `source`. */
  constructor(input: Uint8Array | string, source: string) {
    this.source = source;
    const fail = (why: string, cause?: unknown): never => {
      throw new RevocationError("crl_invalid", `Cannot load CRL "${source}": ${why}`, { cause });
    };
    try {
      const der = this.der = pemOrDer(input, "X509 CRL");
      const top = expectTlv(der, 0, 0x30);
      if (top.end !== der.length) fail("trailing bytes after the CRL");
      const signed = this.#signed = readSigned(der, top, "CRL");
      this.signatureAlgorithm = signed.algorithm;
      const tbsT = readTlv(der, top.valueStart, top.end);
      let p = tbsT.valueStart;
      let t = readTlv(der, p, tbsT.end);
      if (t.tag === 0x02) t = readTlv(der, p = t.end, tbsT.end);
      if (t.tag !== 0x30 || !bytesEqual(whole(der, t), signed.algorithmDer)) {
        fail("inner and outer signature algorithms differ");
      }
      const issuerT = expectTlv(der, t.end, 0x30, tbsT.end);
      this.issuer = whole(der, issuerT);
      t = readTlv(der, issuerT.end, tbsT.end);
      this.thisUpdate = readTime(der, t);
      p = t.end;
      while (p < tbsT.end) {
        t = readTlv(der, p, tbsT.end);
        p = t.end;
        if (t.tag === 0x17 || t.tag === 0x18) this.nextUpdate = readTime(der, t);
        else if (t.tag === 0x30) this.#scanEntries(der, t.valueStart, t.end);
        else if (t.tag === 0xa0) {
          const exts = children(der, expectTlv(der, t.valueStart, 0x30, t.end));
          for (const e of exts) {
            const parts = children(der, e);
            const oid = readOid(der, parts[0]);
            const critical = parts.length === 3 && der[parts[1].valueStart] !== 0;
            const inner = readTlv(der, parts[parts.length - 1].valueStart);
            if (oid === "2.5.29.20") this.crlNumber = BigInt("0x" + toHex(content(der, inner)));
            else if (oid === "2.5.29.35") {
              const kid = children(der, inner).find((c) => c.tag === 0x80);
              if (kid) this.authorityKeyId = toHex(content(der, kid));
            } else if (oid === "2.5.29.27") fail("delta CRLs are not supported");
            if (critical && !KNOWN_CRL_EXTENSIONS.has(oid)) {
              fail(`unsupported critical extension ${oid}`);
            }
          }
        }
      }
    } catch (err) {
      if (err instanceof RevocationError) throw err;
      fail(err instanceof Error ? err.message : String(err), err);
    }
  }

  #scanEntries(der: Uint8Array, start: number, end: number): void {
    const map = this.#entries;
    for (let p = start; p < end;) {
      const entry = readTlv(der, p, end);
      if (entry.tag !== 0x30) throw new DerError(`bad revoked entry at offset ${p}`);
      const serial = readTlv(der, entry.valueStart, entry.end);
      if (serial.tag !== 0x02) throw new DerError(`bad revoked entry at offset ${p}`);
      map.set(serialHexAt(der, serial.valueStart, serial.end), p);
      p = entry.end;
    }
  }

  /** Number of revoked entries. */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether `serial` (any hex form) is listed. */
  has(serial: string): boolean {
    return this.#entries.has(normalizeSerial(serial) ?? serial);
  }

  /** The entry for `serial` (any hex form, e.g. `"01:AB"`), if revoked. */
  lookup(serial: string): CrlEntry | undefined {
    const hit = this.find(serial);
    if (hit) return hit;
    const n = normalizeSerial(serial);
    return n === undefined || n === serial ? undefined : this.find(n);
  }

  /**
   * The entry for a serial already in normalized form (see `normalizeSerial`),
   * if revoked: one `Map` probe, the path used per handshake.
   */
  find(serial: string): CrlEntry | undefined {
    const at = this.#entries.get(serial);
    if (at === undefined) return undefined;
    const der = this.der;
    const entry = readTlv(der, at);
    const dateT = readTlv(der, readTlv(der, entry.valueStart).end, entry.end);
    const out: CrlEntry = { serial, revokedAt: readTime(der, dateT) };
    if (dateT.end < entry.end) {
      for (const e of children(der, readTlv(der, dateT.end, entry.end))) {
        const parts = children(der, e);
        if (readOid(der, parts[0]) !== "2.5.29.21") continue;
        const en = readTlv(der, parts[parts.length - 1].valueStart);
        out.reason = REVOCATION_REASONS[der[en.valueStart]] ?? "unspecified";
      }
    }
    return out;
  }

  /**
   * Whether the signature verifies with `key` (a certificate's
   * `publicKey`), through the project's one signature verifier; `false` as
   * well for an algorithm revocation does not take (MD5, DSA, unknown).
   */
  verifySignatureWith(key: PublicKeyInfo): boolean {
    return verifySigned(this.#signed, key);
  }
}

/**
 * Parses a CRL from DER or PEM. `source` (path or URL) names it in errors.
 *
 * @example
 * ```ts ignore
 * import { parseCrl } from "@mtls/mcp/revocation";
 * const crl = parseCrl(await Deno.readFile("certs/ca.crl"), "certs/ca.crl");
 * console.log(crl.size, crl.nextUpdate);
 * ```
 */
export function parseCrl(input: Uint8Array | string, source: string): ParsedCrl {
  return new ParsedCrl(input, source);
}

/**
 * Checks that `crl` was issued by `issuer`: names match, the key identifier
 * matches when both carry one, the issuer may sign CRLs, and the signature
 * verifies. Remembers success in `crl.verifiedBy`.
 *
 * @throws {RevocationError} `crl_invalid`, e.g. `Cannot load CRL "certs/ca.crl": signature does not verify`
 *
 * @example
 * ```ts ignore
 * import { parseCrl, verifyCrl } from "@mtls/mcp/revocation";
 * const crl = parseCrl(await Deno.readFile("ca.crl"), "ca.crl");
 * await verifyCrl(crl, await Deno.readFile("ca.crt")); // PEM or DER
 * ```
 */
export function verifyCrl(crl: ParsedCrl, issuer: Uint8Array | string): Promise<void> {
  // A promise, as before the check became synchronous: callers await it and
  // expect a rejection, not a throw.
  try {
    verifyCrlWith(crl, readIssuer(crl, issuer));
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(err);
  }
}

function readIssuer(crl: ParsedCrl, issuer: Uint8Array | string): Certificate {
  try {
    return readCertificate(issuer);
  } catch (err) {
    throw new RevocationError(
      "crl_invalid",
      `Cannot load CRL "${crl.source}": the issuer certificate is unreadable (${
        (err as Error).message
      })`,
      { cause: err },
    );
  }
}

/**
 * {@link verifyCrl} with an already read issuer, synchronously.
 *
 * @throws {RevocationError} `crl_invalid`
 *
 * @example
 * ```ts ignore
 * verifyCrlWith(crl, readCertificate(caPem));
 * ```
 */
export function verifyCrlWith(crl: ParsedCrl, issuer: Certificate): void {
  const pin = issuer.spkiPin;
  if (crl.verifiedBy === pin) return;
  const fail = (why: string): never => {
    throw new RevocationError("crl_invalid", `Cannot load CRL "${crl.source}": ${why}`);
  };
  if (!bytesEqual(crl.issuer, issuer.subject.der)) fail("issuer name does not match the CA");
  if (crl.authorityKeyId && issuer.subjectKeyId && crl.authorityKeyId !== issuer.subjectKeyId) {
    fail(`authority key identifier "${crl.authorityKeyId}" does not match the CA`);
  }
  if (issuer.keyUsage && !issuer.keyUsage.has(KEY_USAGE.cRLSign)) {
    fail("the CA certificate may not sign CRLs");
  }
  const unsupported = unsupportedAlgorithm(crl.signatureAlgorithm);
  if (unsupported) fail(unsupported);
  if (!crl.verifySignatureWith(issuer.publicKey)) fail("signature does not verify");
  crl.verifiedBy = pin;
}

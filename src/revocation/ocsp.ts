/**
 * OCSP (RFC 6960): building a request with a nonce, and verifying a response:
 * signer (the issuer, or a responder it delegated with the OCSP-signing EKU),
 * certID, validity window and nonce. Request and response structures come
 * from pkijs; the signature is checked with the project's one verifier over
 * the exact signed bytes, and certificates (the issuer, delegated
 * responders) are read through the model (`readCertificate`).
 *
 * @module
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { type Certificate, readCertificate } from "../cert/certificate.ts";
import {
  bytesEqual,
  children,
  DerError,
  expectTlv,
  readTime,
  readTlv,
  toHex,
  whole,
} from "../cert/der.ts";
import { namesIssuer, signedBy } from "../cert/verify_signature.ts";
import { RevocationError } from "../errors.ts";
import { readSigned, type SignedParts, unsupportedAlgorithm, verifySigned } from "./der.ts";
import { serialHexAt, serialOf } from "./serial.ts";
import { REVOCATION_REASONS, type RevocationReason } from "./types.ts";

const NONCE_OID = "1.3.6.1.5.5.7.48.1.2";
const BASIC_OID = "1.3.6.1.5.5.7.48.1.1";
const OCSP_SIGNING_EKU = "1.3.6.1.5.5.7.3.9";
const HASH_OIDS = { "SHA-1": "1.3.14.3.2.26", "SHA-256": "2.16.840.1.101.3.4.2.1" } as const;
const STATUS_NAMES: Record<number, string> = {
  1: "malformedRequest",
  2: "internalError",
  3: "tryLater",
  5: "sigRequired",
  6: "unauthorized",
};

/** The certificate identity an OCSP request asks about. */
export interface OcspCertId {
  hashOid: string;
  nameHash: Uint8Array;
  keyHash: Uint8Array;
  serial: string;
}

/** A built OCSP request. */
export interface OcspRequest {
  der: Uint8Array;
  certId: OcspCertId;
  /** The nonce sent, when one was. */
  nonce?: Uint8Array;
}

/** A verified OCSP answer for one certificate. */
export interface OcspAnswer {
  status: "good" | "revoked" | "unknown";
  thisUpdate: Date;
  nextUpdate?: Date;
  revokedAt?: Date;
  reason?: RevocationReason;
}

/** The certID for `leaf` issued by `issuer`. */
export async function ocspCertId(
  leaf: Certificate,
  issuer: Certificate,
  hash: "SHA-1" | "SHA-256" = "SHA-1",
): Promise<OcspCertId> {
  const digest = async (d: Uint8Array) =>
    new Uint8Array(await crypto.subtle.digest(hash, d.slice() as Uint8Array<ArrayBuffer>));
  return {
    hashOid: HASH_OIDS[hash],
    nameHash: await digest(issuer.subject.der),
    keyHash: await digest(issuer.publicKey.subjectPublicKey),
    serial: serialOf(leaf),
  };
}

/** Builds a DER OCSP request for `leaf`, with a fresh 16-byte nonce unless `nonce` is false. */
export async function buildOcspRequest(
  leaf: Certificate,
  issuer: Certificate,
  options: { hash?: "SHA-1" | "SHA-256"; nonce?: boolean } = {},
): Promise<OcspRequest> {
  const certId = await ocspCertId(leaf, issuer, options.hash);
  const req = new pkijs.OCSPRequest();
  req.tbsRequest.requestList = [
    new pkijs.Request({
      reqCert: new pkijs.CertID({
        hashAlgorithm: new pkijs.AlgorithmIdentifier({
          algorithmId: certId.hashOid,
          algorithmParams: new asn1js.Null(),
        }),
        issuerNameHash: new asn1js.OctetString({ valueHex: certId.nameHash }),
        issuerKeyHash: new asn1js.OctetString({ valueHex: certId.keyHash }),
        serialNumber: new asn1js.Integer({ valueHex: leaf.serialBytes }),
      }),
    }),
  ];
  let nonce: Uint8Array | undefined;
  if (options.nonce !== false) {
    nonce = crypto.getRandomValues(new Uint8Array(16));
    req.tbsRequest.requestExtensions = [
      new pkijs.Extension({
        extnID: NONCE_OID,
        critical: false,
        extnValue: new asn1js.OctetString({ valueHex: nonce }).toBER(),
      }),
    ];
  }
  return { der: new Uint8Array(req.toSchema(true).toBER()), certId, nonce };
}

/** Options for {@link verifyOcspResponse}. */
export interface VerifyOcspOptions {
  leaf: Certificate;
  issuer: Certificate;
  certId: OcspCertId;
  /** The nonce sent; a response that echoes a different one is refused. */
  nonce?: Uint8Array;
  /** Refuse a response without the nonce. @default {false} */
  requireNonce?: boolean;
  now: Date;
  /** Tolerance for thisUpdate/nextUpdate, ms. */
  clockSkew: number;
  /** Responder URL, for messages. */
  source: string;
}

/**
 * BasicOCSPResponse ::= SEQUENCE { tbsResponseData, signatureAlgorithm,
 * signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }:
 * the signed parts, and the DER of each certificate sent.
 */
function signedParts(basicDer: Uint8Array): { signed: SignedParts; certs: Uint8Array[] } {
  const top = expectTlv(basicDer, 0, 0x30);
  const signed = readSigned(basicDer, top, "basic OCSP response");
  const certsT = children(basicDer, top).find((t) => t.tag === 0xa0);
  if (!certsT) return { signed, certs: [] };
  const seq = expectTlv(basicDer, certsT.valueStart, 0x30, certsT.end);
  return { signed, certs: children(basicDer, seq).map((t) => whole(basicDer, t).slice()) };
}

/** Whether `candidate` may sign OCSP answers for certificates of `issuer` at `now` (RFC 6960 §4.2.2.2). */
function isDelegatedResponder(candidate: Certificate, issuer: Certificate, now: Date): boolean {
  if (!namesIssuer(candidate, issuer)) return false;
  if (!candidate.extendedKeyUsage?.includes(OCSP_SIGNING_EKU)) return false;
  if (now < candidate.notBefore || now > candidate.notAfter) return false;
  return unsupportedAlgorithm(candidate.signatureAlgorithm) === undefined &&
    signedBy(candidate, issuer.publicKey);
}

function statusOf(sr: pkijs.SingleResponse): Omit<OcspAnswer, "thisUpdate" | "nextUpdate"> {
  const raw = new Uint8Array(sr.certStatus.toBER());
  const t = readTlv(raw, 0);
  if (t.tag === 0x80) return { status: "good" };
  if (t.tag === 0x82) return { status: "unknown" };
  if (t.tag !== 0xa1) throw new DerError(`bad certStatus tag 0x${t.tag.toString(16)}`);
  const [time, reasonT] = children(raw, t);
  const out: Omit<OcspAnswer, "thisUpdate" | "nextUpdate"> = {
    status: "revoked",
    revokedAt: readTime(raw, time),
  };
  if (reasonT?.tag === 0xa0) {
    const en = readTlv(raw, reasonT.valueStart);
    out.reason = REVOCATION_REASONS[raw[en.valueStart]] ?? "unspecified";
  }
  return out;
}

/**
 * Parses and verifies an OCSP response for the certificate in `options`.
 *
 * @throws {RevocationError} `ocsp_invalid` naming the responder and what is wrong
 */
export function verifyOcspResponse(
  der: Uint8Array,
  options: VerifyOcspOptions,
): Promise<OcspAnswer> {
  // A promise, as before the signature check became synchronous: callers
  // await it and expect a rejection, not a throw.
  try {
    return Promise.resolve(verifyResponse(der, options));
  } catch (err) {
    // The contract is RevocationError("ocsp_invalid") for any bad response,
    // whichever parser (pkijs or our DER walk) noticed first.
    if (err instanceof RevocationError) return Promise.reject(err);
    return Promise.reject(
      new RevocationError(
        "ocsp_invalid",
        `Invalid OCSP response from "${options.source}": malformed (${(err as Error).message})`,
        { cause: err },
      ),
    );
  }
}

function verifyResponse(der: Uint8Array, options: VerifyOcspOptions): OcspAnswer {
  const { issuer, certId, nonce, now, clockSkew, source } = options;
  const fail = (why: string, cause?: unknown): never => {
    throw new RevocationError("ocsp_invalid", `Invalid OCSP response from "${source}": ${why}`, {
      cause,
    });
  };
  let basic: pkijs.BasicOCSPResponse;
  let basicDer: Uint8Array;
  try {
    const top = readTlv(der, 0);
    if (top.tag !== 0x30 || top.end !== der.length) fail("not a DER OCSP response");
    const resp = pkijs.OCSPResponse.fromBER(der.slice());
    const code = resp.responseStatus.valueBlock.valueDec;
    if (code !== 0) fail(`responder said "${STATUS_NAMES[code] ?? code}"`);
    if (!resp.responseBytes || resp.responseBytes.responseType !== BASIC_OID) {
      fail("not a basic OCSP response");
    }
    basicDer = resp.responseBytes!.response.valueBlock.valueHexView.slice();
    basic = pkijs.BasicOCSPResponse.fromBER(basicDer as Uint8Array<ArrayBuffer>);
  } catch (err) {
    if (err instanceof RevocationError) throw err;
    return fail(`not a DER OCSP response (${(err as Error).message})`, err);
  }
  const tbs = basic.tbsResponseData;
  const sr = tbs.responses.find((r) =>
    r.certID.hashAlgorithm.algorithmId === certId.hashOid &&
    bytesEqual(r.certID.issuerNameHash.valueBlock.valueHexView, certId.nameHash) &&
    bytesEqual(r.certID.issuerKeyHash.valueBlock.valueHexView, certId.keyHash) &&
    serialHexAt(
        r.certID.serialNumber.valueBlock.valueHexView,
        0,
        r.certID.serialNumber.valueBlock.valueHexView.length,
      ) === certId.serial
  );
  if (!sr) return fail(`no answer for serial "${certId.serial}"`);

  // Signer: the issuer itself, or a certificate it issued for OCSP signing.
  const { signed, certs } = signedParts(basicDer);
  const candidates: Certificate[] = [issuer];
  for (const c of certs) {
    try {
      const cert = readCertificate(c);
      if (isDelegatedResponder(cert, issuer, now)) candidates.push(cert);
    } catch { /* not a certificate we can use */ }
  }
  if (!candidates.some((c) => verifySigned(signed, c.publicKey))) {
    fail("signature does not verify with the issuer or a responder it authorized");
  }

  const echoed = tbs.responseExtensions?.find((e) => e.extnID === NONCE_OID);
  if (nonce && echoed) {
    // RFC 8954: extnValue holds an OCTET STRING with the nonce; some responders send it bare.
    const v = echoed.extnValue.valueBlock.valueHexView;
    const inner = v.length >= 2 && v[0] === 0x04 && v[1] === v.length - 2 ? v.subarray(2) : v;
    if (!bytesEqual(inner, nonce)) {
      fail(`nonce "${toHex(inner)}" does not match the request's "${toHex(nonce)}"`);
    }
  } else if (nonce && options.requireNonce) fail("the responder did not echo the nonce");

  if (sr.thisUpdate.getTime() > now.getTime() + clockSkew) {
    fail(`thisUpdate "${sr.thisUpdate.toISOString()}" is in the future`);
  }
  if (sr.nextUpdate && sr.nextUpdate.getTime() < now.getTime() - clockSkew) {
    fail(`nextUpdate "${sr.nextUpdate.toISOString()}" has passed`);
  }
  let status: Omit<OcspAnswer, "thisUpdate" | "nextUpdate">;
  try {
    status = statusOf(sr);
  } catch (err) {
    return fail(`bad certStatus (${(err as Error).message})`, err);
  }
  return { ...status, thisUpdate: sr.thisUpdate, nextUpdate: sr.nextUpdate };
}

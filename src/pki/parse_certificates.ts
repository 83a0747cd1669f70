/**
 * Reading certificates from PEM (one or more blocks) or DER.
 *
 * @module
 */
import { CertificateError } from "../errors.ts";
import { asText, decodePem, describeSource, looksLikePem } from "../cert/pem.ts";
import { type Certificate, readCertificate } from "../cert/certificate.ts";

/**
 * Options for {@link parseCertificates}.
 *
 * @example Naming the file in errors
 * ```ts
 * import type { ParseCertificatesOptions } from "@mtls/mcp/pki";
 * const o: ParseCertificatesOptions = { source: "certs/ca.crt" };
 * ```
 */
export interface ParseCertificatesOptions {
  /** Names the input in error messages (usually a file path). @default {undefined} ("input") */
  source?: string;
}

/**
 * A certificate as the PKI functions accept it: read into the model
 * ({@link Certificate}), PEM text, or DER or PEM bytes. When the input holds
 * several certificates the first is used.
 *
 * @example Any of the three forms
 * ```ts
 * import type { CertificateInput } from "@mtls/mcp/pki";
 * const input: CertificateInput = "-----BEGIN CERTIFICATE-----\n...";
 * ```
 */
export type CertificateInput = Certificate | string | Uint8Array;

/**
 * Parses every certificate in `input`: PEM text or bytes with one or more
 * `CERTIFICATE` blocks (other blocks are skipped), or one DER certificate.
 *
 * @param input PEM or DER
 * @param options names the input in messages
 * @returns the certificates, in file order (at least one)
 * @throws {CertificateError} `invalid_pem` when no certificate block is found or a
 * block does not hold a certificate; `invalid_der` when DER bytes are not a certificate
 *
 * @example Reading a chain file
 * ```ts
 * import { createRootCa, parseCertificates } from "@mtls/mcp/pki";
 * const ca = await createRootCa();
 * const [cert] = parseCertificates(ca.certificatePem);
 * console.log(cert.subject.text); // "CN=mcp-mtls Root CA"
 * ```
 */
export function parseCertificates(
  input: string | Uint8Array,
  options: ParseCertificatesOptions = {},
): Certificate[] {
  const source = describeSource(options.source);
  if (typeof input === "string" || looksLikePem(input)) {
    const blocks = decodePem(asText(input), source);
    const certBlocks = blocks.filter((b) => b.type === "CERTIFICATE");
    if (certBlocks.length === 0) {
      const found = blocks.length ? ` (found "${blocks.map((b) => b.type).join('", "')}")` : "";
      throw new CertificateError(
        "invalid_pem",
        `No PEM "CERTIFICATE" block in ${source}${found}`,
      );
    }
    return certBlocks.map((block, i) => {
      try {
        return readCertificate(block.der);
      } catch (cause) {
        throw new CertificateError(
          "invalid_pem",
          `PEM block ${i + 1} in ${source} is not a valid certificate`,
          { cause },
        );
      }
    });
  }
  try {
    return [readCertificate(input)];
  } catch (cause) {
    throw new CertificateError(
      "invalid_der",
      `Cannot parse ${source}: not a PEM or DER certificate`,
      { cause },
    );
  }
}

/** The first certificate of `input`, reading it when it is PEM or DER. */
export function toCertificate(input: CertificateInput): Certificate {
  return typeof input === "string" || input instanceof Uint8Array
    ? parseCertificates(input)[0]
    : input;
}

/**
 * PEM blocks: finding them in text and writing them, on top of
 * `@peculiar/x509`'s `PemConverter`.
 *
 * @module
 */
import { CertificateError } from "../errors.ts";
import { PemConverter } from "./x509.ts";

/** One decoded PEM block. */
export interface PemBlock {
  /** The label, e.g. `CERTIFICATE` or `PRIVATE KEY`. */
  type: string;
  /** The DER bytes. */
  der: Uint8Array<ArrayBuffer>;
}

/** Whether `input` is text that opens a PEM block (rather than DER bytes). */
export function looksLikePem(input: string | Uint8Array): boolean {
  const head = typeof input === "string"
    ? input.slice(0, 4096)
    : new TextDecoder().decode(input.subarray(0, 4096));
  return head.includes("-----BEGIN ");
}

/** Text of `input` (UTF-8 when bytes). */
export function asText(input: string | Uint8Array): string {
  return typeof input === "string" ? input : new TextDecoder().decode(input);
}

/**
 * Every PEM block in `text`, in order.
 *
 * @throws {CertificateError} `invalid_pem` when a block is malformed
 */
export function decodePem(text: string, source: string): PemBlock[] {
  let blocks: PemBlock[];
  try {
    blocks = PemConverter.decodeWithHeaders(text).map((b) => ({
      type: b.type,
      der: new Uint8Array(b.rawData),
    }));
  } catch (cause) {
    throw malformed(source, cause);
  }
  // The converter silently skips blocks it cannot match; a skipped block is an error here.
  if (blocks.length < (text.match(/-----BEGIN [^-]+-----/g) ?? []).length) throw malformed(source);
  return blocks;
}

function malformed(source: string, cause?: unknown): CertificateError {
  return new CertificateError(
    "invalid_pem",
    `Malformed PEM in ${source}: a block is not base64 between matching BEGIN and END lines`,
    { cause },
  );
}

/** Encodes DER bytes as one PEM block with 64-character lines. */
export function encodePem(der: ArrayBuffer | Uint8Array, type: string): string {
  const bytes = der instanceof Uint8Array ? der : new Uint8Array(der);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  const lines = btoa(binary).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join("\n")}\n-----END ${type}-----\n`;
}

/** How messages name an input: `"path"` quoted, or `input` when unnamed. */
export function describeSource(source: string | undefined): string {
  return source === undefined ? "input" : `"${source}"`;
}

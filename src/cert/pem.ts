/**
 * The project's one PEM codec (RFC 7468): finding blocks in text, decoding
 * them strictly (base64 only, matching BEGIN and END labels, RFC 1421
 * headers such as `Proc-Type` skipped) and writing them with 64-character
 * lines. Runtime-neutral; base64 through `node:buffer`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { CertificateError } from "../errors.ts";

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

const BLOCK = /-----BEGIN ([^\r\n-]+)-----\r?\n([\s\S]*?)-----END ([^\r\n-]+)-----/g;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Every PEM block in `text`, in order. Text between blocks is ignored (as
 * OpenSSL does: bundles often carry `subject=` lines); a block whose END label
 * differs from its BEGIN label, whose body is not base64, or a BEGIN line
 * without a block is an error, never skipped.
 *
 * @throws {CertificateError} `invalid_pem` when a block is malformed
 *
 * @example
 * ```ts
 * import { decodePem } from "./pem.ts";
 * const [block] = decodePem("-----BEGIN X-----\nAAEC\n-----END X-----\n", "input");
 * console.log(block.type, block.der); // "X" Uint8Array(3) [0, 1, 2]
 * ```
 */
export function decodePem(text: string, source: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const [, type, body, end] of text.matchAll(BLOCK)) {
    if (type !== end) throw malformed(source);
    // RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`) end at the first blank line.
    const lines = body.split(/\r?\n/);
    const headerEnd = lines[0]?.includes(":") ? lines.indexOf("") : -1;
    const b64 = lines.slice(headerEnd + 1).join("").replace(/[ \t]/g, "");
    if (b64.length % 4 !== 0 || !BASE64.test(b64)) throw malformed(source);
    const der = new Uint8Array(Buffer.from(b64, "base64"));
    blocks.push({ type, der });
  }
  if (blocks.length < (text.match(/-----BEGIN [^\r\n-]+-----/g) ?? []).length) {
    throw malformed(source);
  }
  return blocks;
}

function malformed(source: string): CertificateError {
  return new CertificateError(
    "invalid_pem",
    `Malformed PEM in ${source}: a block is not base64 between matching BEGIN and END lines`,
  );
}

/**
 * The DER of every block labelled `label` in PEM `text`; other blocks are
 * skipped. Bytes that are not PEM are returned as one DER item.
 *
 * @throws {CertificateError} `invalid_pem` when a block is malformed
 *
 * @example
 * ```ts
 * import { pemOrDerItems } from "./pem.ts";
 * console.log(pemOrDerItems(new Uint8Array([0x30, 0]), "CERTIFICATE", "input").length); // 1
 * ```
 */
export function pemOrDerItems(
  input: string | Uint8Array,
  label: string,
  source: string,
): Uint8Array<ArrayBuffer>[] {
  if (typeof input !== "string" && !looksLikePem(input)) return [new Uint8Array(input)];
  return decodePem(asText(input), source).filter((b) => b.type === label).map((b) => b.der);
}

/** Encodes DER bytes as one PEM block with 64-character lines. */
export function encodePem(der: ArrayBuffer | Uint8Array, type: string): string {
  const bytes = der instanceof Uint8Array ? der : new Uint8Array(der);
  const lines = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")
    .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join("\n")}\n-----END ${type}-----\n`;
}

/** How messages name an input: `"path"` quoted, or `input` when unnamed. */
export function describeSource(source: string | undefined): string {
  return source === undefined ? "input" : `"${source}"`;
}

/**
 * Whether `text` holds a BEGIN line whose label matches `label` (a string is
 * matched exactly), without decoding anything: a cheap shape check for
 * options before the TLS stack reads them.
 *
 * @example
 * ```ts
 * import { hasPemLabel } from "./pem.ts";
 * console.log(hasPemLabel("-----BEGIN EC PRIVATE KEY-----\n", /^[A-Z ]*PRIVATE KEY$/)); // true
 * ```
 */
export function hasPemLabel(text: unknown, label: string | RegExp): boolean {
  if (typeof text !== "string") return false;
  for (const [, found] of text.matchAll(/-----BEGIN ([^\r\n-]+)-----/g)) {
    if (typeof label === "string" ? found === label : label.test(found)) return true;
  }
  return false;
}

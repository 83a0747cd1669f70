/**
 * Test helper: chains made by the real `openssl` (`x509 -req -extfile`), with
 * any extension line OpenSSL's config syntax can say (nameConstraints,
 * dirName sections, raw DER), and the verdict of `openssl verify -purpose
 * sslclient -x509_strict` on them, to set ours beside.
 */
import { openssl, opensslOk } from "../pki/_openssl.ts";

/** A certificate made by {@link NcPki.issue}. */
export interface Issued {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

/** CA extensions that satisfy `-x509_strict` (SKI on every CA, AKI below the root). */
export const CA_EXT = [
  "basicConstraints=critical,CA:TRUE",
  "keyUsage=critical,keyCertSign,cRLSign",
  "subjectKeyIdentifier=hash",
];

/** A client leaf's extensions. */
export const LEAF_EXT = [
  "basicConstraints=critical,CA:FALSE",
  "keyUsage=critical,digitalSignature",
  "extendedKeyUsage=clientAuth",
  "subjectKeyIdentifier=hash",
];

/** What `openssl verify` said. */
export interface OpensslVerdict {
  ok: boolean;
  /** The `error NN at D depth lookup: ...` text, or "" when accepted. */
  error: string;
}

/** Makes certificates in `dir` with openssl. */
export class NcPki {
  #n = 0;

  /** @param dir a temporary folder the caller removes */
  constructor(readonly dir: string) {}

  /**
   * Issues a P-256 certificate for `subject` (`/C=US/O=x/CN=y`), signed by
   * `issuer` (self-signed without), with extension lines `ext`; `sections`
   * is appended to the extension file (for `dirName:sect` constraints).
   */
  async issue(
    subject: string,
    ext: string[],
    options: { issuer?: Issued; sections?: string } = {},
  ): Promise<Issued> {
    const n = ++this.#n;
    const base = `${this.dir}/c${n}`;
    const extLines = options.issuer ? [...ext, "authorityKeyIdentifier=keyid"] : ext;
    await Deno.writeTextFile(
      `${base}.ext`,
      `[v3]\n${extLines.join("\n")}\n${options.sections ?? ""}`,
    );
    await opensslOk([
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${base}.key`,
      "-out",
      `${base}.csr`,
      "-subj",
      subject,
    ]);
    const signer = options.issuer
      ? ["-CA", options.issuer.certFile, "-CAkey", options.issuer.keyFile]
      : ["-signkey", `${base}.key`];
    await opensslOk([
      "x509",
      "-req",
      "-in",
      `${base}.csr`,
      ...signer,
      "-set_serial",
      String(1000 + n),
      "-days",
      "30",
      "-sha256",
      "-extfile",
      `${base}.ext`,
      "-extensions",
      "v3",
      "-out",
      `${base}.crt`,
    ]);
    return {
      cert: await Deno.readTextFile(`${base}.crt`),
      key: await Deno.readTextFile(`${base}.key`),
      certFile: `${base}.crt`,
      keyFile: `${base}.key`,
    };
  }

  /** A CA under `issuer` (a root without) with extra extension lines. */
  ca(subject: string, extra: string[], issuer?: Issued, sections?: string): Promise<Issued> {
    return this.issue(subject, [...CA_EXT, ...extra], { issuer, sections });
  }

  /** A client leaf under `issuer` with extra extension lines (a subjectAltName, usually). */
  leaf(issuer: Issued, subject: string, extra: string[] = []): Promise<Issued> {
    return this.issue(subject, [...LEAF_EXT, ...extra], { issuer });
  }

  /** `openssl verify -purpose sslclient -x509_strict -CAfile root -untrusted ints leaf`. */
  async verify(root: Issued, ints: Issued[], leaf: Issued): Promise<OpensslVerdict> {
    const n = ++this.#n;
    const untrusted: string[] = [];
    if (ints.length > 0) {
      await Deno.writeTextFile(`${this.dir}/u${n}.pem`, ints.map((i) => i.cert).join(""));
      untrusted.push("-untrusted", `${this.dir}/u${n}.pem`);
    }
    const r = await openssl([
      "verify",
      "-purpose",
      "sslclient",
      "-x509_strict",
      "-CAfile",
      root.certFile,
      ...untrusted,
      leaf.certFile,
    ]);
    const out = r.stdout + r.stderr;
    const error = /error \d+ at \d+ depth lookup: ([^\n]+)/.exec(out)?.[1] ?? "";
    return { ok: r.code === 0, error: r.code === 0 ? "" : error || out.trim() };
  }
}

/** DER of a definite-length TLV (short or long form), as hex, for `DER:` extension values. */
export function tlv(tag: number, contentHex: string): string {
  const len = contentHex.length / 2;
  const lenHex = len < 0x80
    ? len.toString(16).padStart(2, "0")
    : len < 0x100
    ? "81" + len.toString(16).padStart(2, "0")
    : "82" + len.toString(16).padStart(4, "0");
  return tag.toString(16).padStart(2, "0") + lenHex + contentHex;
}

/** ASCII text as hex. */
export function asciiHex(s: string): string {
  return Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, "0")).join("");
}

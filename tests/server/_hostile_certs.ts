/**
 * Client certificates that the TLS stack itself refuses inside the handshake,
 * built with the real openssl from the fixture CA, plus a key that passes for
 * alice's but signs with another secret (a stolen certificate without its key).
 */

import { createPrivateKey, sign, X509Certificate } from "node:crypto";
import { type Fixtures, run } from "./_fixtures.ts";

/** A certificate file and the key file to present it with. */
export interface Presented {
  certFile: string;
  keyFile: string;
}

/** The five hostile client credentials. */
export interface HostileCertificates {
  /** Issued by the test CA with an unknown extension marked critical. */
  unknownCritical: Presented;
  /** Issued by the test CA for an RSA-1024 key. */
  rsa1024: Presented;
  /** Issued by the test CA with two subjectAltName extensions (RFC 5280 4.2 forbids it). */
  duplicateExtension: Presented;
  /** Issued by the test CA, 70 KB: over the 64 KiB a TLS handshake message may hold. */
  oversized: Presented;
  /** alice's own certificate with a key whose public half is alice's and whose secret is not. */
  stolen: Presented;
}

const CLIENT_EXTENSIONS = [
  "basicConstraints=critical,CA:FALSE",
  "keyUsage=critical,digitalSignature",
  "extendedKeyUsage=clientAuth",
];

/** Builds the hostile credentials in `fx.dir` (openssl, about 100 ms). */
export async function makeHostileCertificates(fx: Fixtures): Promise<HostileCertificates> {
  const dir = fx.dir;
  const caKey = fx.caAsClient.keyFile;
  const ok = async (args: string[]) => {
    const r = await run("openssl", args);
    if (r.code !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
  };
  const issue = async (name: string, keyFile: string, extensions: string[]) => {
    const ext = `${dir}/${name}.ext`;
    await Deno.writeTextFile(ext, [...CLIENT_EXTENSIONS, ...extensions].join("\n") + "\n");
    await ok([
      "req",
      "-new",
      "-key",
      keyFile,
      "-subj",
      `/CN=${name}`,
      "-out",
      `${dir}/${name}.csr`,
    ]);
    await ok([
      ...["x509", "-req", "-in", `${dir}/${name}.csr`, "-CA", fx.caFile, "-CAkey", caKey],
      ...["-CAcreateserial", "-days", "30", "-extfile", ext, "-out", `${dir}/${name}.crt`],
    ]);
    return { certFile: `${dir}/${name}.crt`, keyFile };
  };
  const ecKey = `${dir}/hostile-ec.key`;
  await ok(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ecKey]);
  const rsaKey = `${dir}/rsa1024.key`;
  await ok(["genrsa", "-out", rsaKey, "1024"]);

  const unknownCritical = await issue("unknown-critical", ecKey, [
    "1.3.6.1.4.1.55555.1=critical,ASN1:UTF8String:must be understood",
  ]);
  const rsa1024 = await issue("rsa1024", rsaKey, []);
  // openssl replaces an extension it already has, so the second SAN goes in under a
  // placeholder OID (2.5.29.99) that is then renamed to 2.5.29.17 and the TBS re-signed.
  const placeholder = await issue("duplicate-extension", ecKey, [
    "subjectAltName=DNS:alice.local",
    "2.5.29.99=DER:300d820b616c6963652e6c6f63616c",
  ]);
  await Deno.writeTextFile(
    placeholder.certFile,
    renameAndResign(await Deno.readTextFile(placeholder.certFile), await Deno.readTextFile(caKey)),
  );
  const oversized = await issue("oversized", ecKey, [
    `1.3.6.1.4.1.55555.2=ASN1:UTF8String:${"A".repeat(70_000)}`,
  ]);
  const stolenKey = `${dir}/alice-stolen.key`;
  await Deno.writeTextFile(stolenKey, impostorKey(fx.alice.key, await Deno.readTextFile(ecKey)), {
    mode: 0o600,
  });
  return {
    unknownCritical,
    rsa1024,
    duplicateExtension: placeholder,
    oversized,
    stolen: { certFile: fx.alice.certFile, keyFile: stolenKey },
  };
}

function tlv(tag: number, value: Uint8Array): Uint8Array {
  const n = value.length;
  const len = n < 0x80
    ? [n]
    : n < 0x100
    ? [0x81, n]
    : n < 0x10000
    ? [0x82, n >> 8, n & 0xff]
    : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return new Uint8Array([tag, ...len, ...value]);
}

/** Offset past a DER header and the content length at `at`. */
function header(der: Uint8Array, at: number): { size: number; length: number } {
  const first = der[at + 1];
  if (first < 0x80) return { size: 2, length: first };
  let length = 0;
  for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + der[at + 2 + i];
  return { size: 2 + (first & 0x7f), length };
}

function renameAndResign(pem: string, caKeyPem: string): string {
  const der = new Uint8Array(new X509Certificate(pem).raw);
  let at = header(der, 0).size;
  const t = header(der, at);
  const tbs = der.slice(at, at + t.size + t.length);
  at += t.size + t.length;
  const a = header(der, at);
  const algorithm = der.slice(at, at + a.size + a.length);
  const from = [0x06, 0x03, 0x55, 0x1d, 0x63];
  const i = tbs.findIndex((_, k) => from.every((b, j) => tbs[k + j] === b));
  if (i < 0) throw new Error("Placeholder extension 2.5.29.99 not found");
  tbs[i + 4] = 0x11;
  const signature = sign("sha256", tbs, createPrivateKey(caKeyPem));
  const cert = tlv(
    0x30,
    new Uint8Array([...tbs, ...algorithm, ...tlv(0x03, new Uint8Array([0, ...signature]))]),
  );
  const b64 = btoa(String.fromCharCode(...cert)).match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/**
 * A SEC1 P-256 key whose embedded public point is the victim's and whose
 * secret scalar is another key's. OpenSSL loads it without a consistency check
 * (its public half matches the certificate), then signs with the wrong secret:
 * the handshake carries a CertificateVerify that does not verify.
 */
function impostorKey(victimPem: string, signerPem: string): string {
  const victim = createPrivateKey(victimPem).export({ format: "jwk" });
  const signer = createPrivateKey(signerPem).export({ format: "jwk" });
  const b = (s: string | undefined) =>
    Uint8Array.from(atob(s!.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const point = new Uint8Array([4, ...b(victim.x), ...b(victim.y)]);
  const prime256v1 = new Uint8Array([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);
  const der = tlv(
    0x30,
    new Uint8Array([
      ...tlv(0x02, new Uint8Array([1])),
      ...tlv(0x04, b(signer.d)),
      ...tlv(0xa0, prime256v1),
      ...tlv(0xa1, tlv(0x03, new Uint8Array([0, ...point]))),
    ]),
  );
  const b64 = btoa(String.fromCharCode(...der)).match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN EC PRIVATE KEY-----\n${b64}\n-----END EC PRIVATE KEY-----\n`;
}

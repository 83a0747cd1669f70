/**
 * Test helper: client certificates made by the real `openssl` with subjects
 * and SANs our own PKI refuses to issue (several CNs, multi-valued RDNs,
 * several URI SANs), signed by a given CA or self-signed.
 */
import { opensslOk } from "../pki/_openssl.ts";

/** A certificate and its key, as PEM and as files. */
export interface OpensslCert {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

/** What to put in the certificate. */
export interface OpensslCertSpec {
  /** File name stem inside `dir`. */
  name: string;
  /** `-subj` value, e.g. `/CN=agent/CN=admin`. */
  subject: string;
  /** Pass `-multivalue-rdn` so `+` joins attributes into one RDN. */
  multiValueRdn?: boolean;
  /** subjectAltName extension value, e.g. `URI:spiffe://a/b,IP:1:0:0:2:0:0:0:3`. */
  subjectAltName?: string;
  /** Signing CA (certificate and key files); self-signed when absent. */
  ca?: { certFile: string; keyFile: string };
}

/**
 * Makes an EC P-256 client certificate with `openssl req` + `openssl x509 -req`
 * (clientAuth, digitalSignature, not a CA), valid for two days.
 */
export async function opensslClientCert(dir: string, spec: OpensslCertSpec): Promise<OpensslCert> {
  const base = `${dir}/${spec.name}`;
  const [keyFile, csrFile, certFile, extFile] = [".key", ".csr", ".crt", ".ext"].map((e) =>
    base + e
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
    keyFile,
    "-out",
    csrFile,
    "-subj",
    spec.subject,
    ...(spec.multiValueRdn ? ["-multivalue-rdn"] : []),
  ]);
  const ext = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=clientAuth",
    ...(spec.subjectAltName ? [`subjectAltName=${spec.subjectAltName}`] : []),
  ];
  await Deno.writeTextFile(extFile, ext.join("\n") + "\n");
  const signer = spec.ca
    ? ["-CA", spec.ca.certFile, "-CAkey", spec.ca.keyFile, "-CAcreateserial"]
    : ["-signkey", keyFile];
  await opensslOk([
    "x509",
    "-req",
    "-in",
    csrFile,
    "-days",
    "2",
    "-sha256",
    "-extfile",
    extFile,
    ...signer,
    "-out",
    certFile,
  ]);
  return {
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
    certFile,
    keyFile,
  };
}

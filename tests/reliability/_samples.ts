// Valid samples of every input the library parses, made fresh by our PKI (and
// openssl for the OCSP response): the seeds the fuzzers mutate and the fault
// tests serve.
import { X509Certificate } from "node:crypto";
import {
  type CertificateBundle,
  createCrl,
  createRootCa,
  issueCertificate,
  toPkcs12,
} from "../../src/pki/mod.ts";

export interface Samples {
  ca: CertificateBundle;
  caDer: Uint8Array;
  /** A good client (not revoked). */
  leaf: CertificateBundle;
  leafDer: Uint8Array;
  /** A client listed in `crlDer`. */
  revoked: CertificateBundle;
  revokedDer: Uint8Array;
  /** CRL signed by `ca` listing `revoked`. */
  crlDer: Uint8Array;
  /** An OCSP response from openssl, signed by `ca`, saying `leaf` is good (no nonce, 1 day). */
  ocspDer: Uint8Array;
  p12: Uint8Array;
  p12Password: string;
  configYaml: string;
  configJson: string;
}

async function run(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

const der = (b: CertificateBundle) => new Uint8Array(new X509Certificate(b.certificatePem).raw);

/** Builds every sample (openssl works in a temp folder, removed before returning). */
export async function makeSamples(prefix: string): Promise<Samples> {
  const dir = await Deno.makeTempDir({ prefix: `rel-${prefix}-` });
  try {
    return await build(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function build(dir: string): Promise<Samples> {
  const ca = await createRootCa({ commonName: "Samples CA", exportable: true });
  const leaf = await issueCertificate(ca, "client", {
    commonName: "sample-agent",
    exportable: true,
  });
  const revoked = await issueCertificate(ca, "client", {
    commonName: "revoked-agent",
    exportable: true,
  });
  const serialOf = (b: CertificateBundle) => new X509Certificate(b.certificatePem).serialNumber;
  const crlDer = await createCrl(
    { certificate: ca.certificate, privateKey: ca.privateKey },
    [{ serialNumber: serialOf(revoked), revocationDate: new Date(), reason: "keyCompromise" }],
    { crlNumber: 1 },
  );
  await Deno.writeTextFile(`${dir}/ca.pem`, ca.certificatePem);
  await Deno.writeTextFile(`${dir}/ca.key`, ca.privateKeyPem!, { mode: 0o600 });
  await Deno.writeTextFile(`${dir}/leaf.pem`, leaf.certificatePem);
  const notAfter = new Date(new X509Certificate(leaf.certificatePem).validTo);
  const exp = notAfter.toISOString().slice(2, 19).replace(/[-:T]/g, "") + "Z";
  await Deno.writeTextFile(
    `${dir}/index.txt`,
    `V\t${exp}\t\t${serialOf(leaf)}\tunknown\t/CN=sample-agent\n`,
  );
  await run(
    ["ocsp", "-issuer", "ca.pem", "-cert", "leaf.pem", "-no_nonce", "-reqout", "req.der"],
    dir,
  );
  await run([
    "ocsp",
    "-index",
    "index.txt",
    "-rsigner",
    "ca.pem",
    "-rkey",
    "ca.key",
    "-CA",
    "ca.pem",
    "-reqin",
    "req.der",
    "-respout",
    "resp.der",
    "-ndays",
    "1",
  ], dir);
  const p12Password = "fuzz-Passw0rd-7f3a";
  const p12 = await toPkcs12(
    { certificate: der(leaf), privateKey: leaf.privateKey, chain: [der(ca)] },
    p12Password,
  );
  const configYaml = `hostname: 127.0.0.1
port: 8443
path: /mcp
sessions: stateful
tls:
  cert: server.crt
  key: server.key
  ca: [ca.crt]
  minVersion: TLSv1.2
limits:
  handshakeTimeoutMs: 10000
  maxBodyBytes: 1048576
  connectionsPerAddress: { limit: 50, windowMs: 60000 }
authorization:
  default: deny
  rules:
    - identity: "cn:agent-*"
      tools: [echo, whoami]
`;
  const configJson = JSON.stringify(
    {
      hostname: "127.0.0.1",
      port: 8443,
      tls: { cert: "server.crt", key: "server.key", ca: ["ca.crt"], minVersion: "TLSv1.3" },
      limits: { maxBodyBytes: 65536, connectionsPerAddress: false },
      pins: { allow: ["sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="] },
    },
    null,
    2,
  );
  return {
    ca,
    caDer: der(ca),
    leaf,
    leafDer: der(leaf),
    revoked,
    revokedDer: der(revoked),
    crlDer,
    ocspDer: await Deno.readFile(`${dir}/resp.der`),
    p12,
    p12Password,
    configYaml,
    configJson,
  };
}

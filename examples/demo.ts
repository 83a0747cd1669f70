/**
 * `deno task demo` (interim): makes a CA, a server and a client certificate
 * in a temporary folder with mcp-mtls's in-process PKI, prints what it made,
 * and cleans up. The full MCP-over-mTLS demo replaces this once the server lands.
 */
import { writeFileAtomic } from "../src/fs/mod.ts";
import {
  type CertificateBundle,
  createRootCa,
  inspectCertificate,
  issueCertificate,
} from "../src/pki/mod.ts";

const dir = await Deno.makeTempDir({ prefix: "mcp-mtls-demo-" });
try {
  const ca = await createRootCa({ commonName: "mcp-mtls Demo CA", exportable: true });
  const server = await issueCertificate(ca, "server", {
    commonName: "localhost",
    subjectAltNames: "dns:localhost,ip:127.0.0.1,ip:::1",
    exportable: true,
  });
  const client = await issueCertificate(ca, "client", {
    commonName: "demo-agent",
    subjectAltNames: "uri:spiffe://demo.local/agent",
    exportable: true,
  });

  const made: [string, CertificateBundle][] = [["ca", ca], ["server", server], ["client", client]];
  for (const [name, bundle] of made) {
    await writeFileAtomic(`${dir}/${name}.crt`, bundle.certificatePem);
    await writeFileAtomic(`${dir}/${name}.key`, bundle.privateKeyPem!, { mode: 0o600 });
  }

  console.log(`mcp-mtls demo: made a CA and two certificates in ${dir}\n`);
  for (const [name, bundle] of made) {
    const info = await inspectCertificate(bundle.certificate);
    const sans = info.subjectAltNames.map((s) => `${s.type}:${s.value}`).join(", ") || "none";
    console.log(`${name}.crt  (${name}.key, mode 0600)`);
    console.log(`  subject   ${info.subject}`);
    console.log(`  issuer    ${info.issuer}`);
    console.log(`  SANs      ${sans}`);
    console.log(`  usage     ${info.isCa ? "CA" : info.extendedKeyUsage.join(", ")}`);
    console.log(`  key       ${info.keyType}`);
    console.log(`  expires   ${info.notAfter.toISOString()}`);
    console.log(`  SPKI pin  ${info.spkiPin}\n`);
  }
  console.log("Next: deno task cli certs init   (writes the same set into ./certs)");
} finally {
  await Deno.remove(dir, { recursive: true });
}

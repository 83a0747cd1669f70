/**
 * A temp folder laid out like the repository: `certs/` with a CA, a server
 * certificate (127.0.0.1), the client `mcp-client` (as `certs init` makes)
 * and a PKCS#12 of the server; `examples/` with copies of the example config
 * files, whose paths point at `../certs/`. The folder is removed when the
 * test module unloads (see ../_temp_dir.ts).
 */
import { createRootCa, issueCertificate, toPkcs12 } from "../../src/pki/mod.ts";
import { moduleTempDir } from "../_temp_dir.ts";

export interface ConfigFixture {
  root: string;
  certs: string;
  yaml: string;
  json: string;
  ca: string;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
  /** Password of certs/server.p12. */
  p12Password: string;
}

const EXAMPLES = new URL("../../examples/", import.meta.url);

export async function makeConfigFixture(): Promise<ConfigFixture> {
  const root = await moduleTempDir("mcp-mtls-config-test-");
  const certs = `${root}/certs`;
  await Deno.mkdir(certs);
  await Deno.mkdir(`${root}/examples`);
  const ca = await createRootCa({ commonName: "Config Test CA", exportable: true });
  const server = await issueCertificate(ca, "server", {
    commonName: "localhost",
    subjectAltNames: "dns:localhost,ip:127.0.0.1",
    exportable: true,
  });
  const client = await issueCertificate(ca, "client", {
    commonName: "mcp-client",
    exportable: true,
  });
  const p12Password = "correct horse";
  await Deno.writeTextFile(`${certs}/ca.crt`, ca.certificatePem);
  await Deno.writeTextFile(`${certs}/server.crt`, server.certificatePem);
  await Deno.writeTextFile(`${certs}/server.key`, server.privateKeyPem!, { mode: 0o600 });
  await Deno.writeFile(
    `${certs}/server.p12`,
    await toPkcs12({
      certificate: server.certificate,
      privateKey: server.privateKey,
      chain: [ca.certificate],
    }, p12Password),
  );
  const yaml = `${root}/examples/mcp-mtls.yaml`;
  const json = `${root}/examples/mcp-mtls.json`;
  await Deno.copyFile(new URL("mcp-mtls.yaml", EXAMPLES), yaml);
  await Deno.copyFile(new URL("mcp-mtls.json", EXAMPLES), json);
  return {
    root,
    certs,
    yaml,
    json,
    ca: ca.certificatePem,
    server: { cert: server.certificatePem, key: server.privateKeyPem! },
    client: { cert: client.certificatePem, key: client.privateKeyPem! },
    p12Password,
  };
}

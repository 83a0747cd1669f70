/**
 * A minimal MCP server over mutual TLS, runnable as is:
 *
 *   deno run -A examples/server.ts [CERTS_DIR]
 *
 * With CERTS_DIR (from `deno task cli certs init --dir CERTS_DIR`) it serves
 * CERTS_DIR/server.crt and trusts CERTS_DIR/ca.crt; without it, it makes a
 * throwaway CA, server and client certificate in a temporary folder and
 * prints a curl command that calls the `whoami` tool. Ctrl-C stops it.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { registerDemoTools } from "../src/mcp/demo_tools.ts";
import { serveMcp } from "../src/mcp/server.ts";
import { createRootCa, issueCertificate } from "../src/pki/mod.ts";

async function credentials(dir: string | undefined) {
  if (dir) {
    const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
    return {
      cert: await read("server.crt"),
      key: await read("server.key"),
      ca: await read("ca.crt"),
    };
  }
  const ca = await createRootCa({ commonName: "Example CA" });
  const server = await issueCertificate(ca, "server", {
    subjectAltNames: "dns:localhost,ip:127.0.0.1",
    exportable: true,
  });
  const client = await issueCertificate(ca, "client", {
    commonName: "example-client",
    subjectAltNames: "uri:spiffe://example.org/example-client",
    exportable: true,
  });
  const tmp = await Deno.makeTempDir({ prefix: "mcp-mtls-example-" });
  await Deno.writeTextFile(`${tmp}/ca.crt`, ca.certificatePem);
  await Deno.writeTextFile(`${tmp}/client.crt`, client.certificatePem);
  await Deno.writeTextFile(`${tmp}/client.key`, client.privateKeyPem!, { mode: 0o600 });
  console.log(`Throwaway certificates in ${tmp}`);
  return { cert: server.certificatePem, key: server.privateKeyPem!, ca: ca.certificatePem, tmp };
}

const creds = await credentials(Deno.args[0]);
const server = await serveMcp(
  // One McpServer per session; tool handlers see the caller in extra.authInfo.
  () => registerDemoTools(new McpServer({ name: "example", version: "1.0.0" })),
  { port: Number(Deno.env.get("PORT") ?? 8443), tls: creds },
);
console.log(`MCP over mTLS at ${server.url}`);
if ("tmp" in creds) {
  const d = creds.tmp;
  console.log(
    `Try: curl --cacert ${d}/ca.crt --cert ${d}/client.crt --key ${d}/client.key \\\n` +
      `  -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \\\n` +
      `  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' \\\n` +
      `  ${server.url}`,
  );
}
Deno.addSignalListener("SIGINT", async () => {
  await server.close();
  Deno.exit(0);
});

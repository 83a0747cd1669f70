/**
 * A minimal MCP client over mutual TLS: connects with a client certificate,
 * lists the tools and asks the server who we are. Given the server's pin it
 * refuses any other server key inside the handshake, and when `ca.crl`
 * exists it refuses a revoked server certificate, both before any request.
 *
 * Run it against the demo server:
 *
 * ```sh
 * deno task cli certs init --dir certs      # once: CA, server and client certificates
 * deno task cli serve --certs certs         # in another terminal: https://127.0.0.1:8443/mcp
 * deno run -A examples/client.ts            # or: deno run -A examples/client.ts URL CERTS_DIR [PIN]
 * deno run -A examples/client.ts https://127.0.0.1:8443/mcp certs "$(deno task -q cli certs pin certs/server.crt)"
 * ```
 *
 * @module
 */
import { connectMcpClient } from "../src/mcp/mod.ts";
import { MtlsError } from "../src/errors.ts";

const url = Deno.args[0] ?? "https://127.0.0.1:8443/mcp";
const dir = Deno.args[1] ?? "certs";
const pin = Deno.args[2]; // the server's SPKI pin, as `certs pin` prints it
const crl = `${dir}/ca.crl`; // written by `certs revoke`

try {
  const ca = await Deno.readTextFile(`${dir}/ca.crt`);
  const hasCrl = await Deno.stat(crl).then(() => true, () => false);
  const client = await connectMcpClient(url, {
    cert: await Deno.readTextFile(`${dir}/client.crt`),
    key: await Deno.readTextFile(`${dir}/client.key`),
    ca,
    ...(pin ? { pins: [pin] } : {}),
    ...(hasCrl ? { revocation: { crls: [crl], issuers: [ca] } } : {}),
    clientInfo: { name: "example-client", version: "1.0.0" },
  });
  try {
    const { tools } = await client.listTools();
    console.log("tools:", tools.map((t: { name: string }) => t.name).join(", "));
    const result = await client.callTool({ name: "whoami", arguments: {} });
    const [first] = (result as { content: { type: string; text: string }[] }).content;
    console.log("whoami:", first?.text);
  } finally {
    await client.close();
  }
} catch (e) {
  // Refusals carry a stable reason code: no_client_cert, unknown_ca, pin_mismatch, revoked, ...
  if (e instanceof MtlsError) {
    console.error(`refused (${e.code}): ${e.message}`);
    Deno.exit(1);
  }
  if (e instanceof Deno.errors.NotFound) {
    console.error(
      `No certificates in "${dir}": run \`deno task cli certs init --dir ${dir}\` first`,
    );
    Deno.exit(1);
  }
  throw e;
}

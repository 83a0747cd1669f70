/**
 * `deno task demo`: mutual TLS for MCP, end to end, in one process.
 *
 * 1. makes a CA, a server certificate and three client certificates in memory
 *    (plus one client from a CA the server does not trust);
 * 2. serves the built-in demo tools over HTTPS with client certificates required,
 *    on a free port on 127.0.0.1, with one authorization rule;
 * 3. connects an authorized agent that lists and calls the tools and prints the
 *    identity the server saw;
 * 4. shows four callers being refused, each with its reason code: no certificate,
 *    a certificate from another CA, an expired certificate, and an identity the
 *    rules do not allow.
 *
 * Exits 0 only if every step did what it says; anything unexpected exits 1.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { MtlsError } from "../src/errors.ts";
import { createLogger } from "../src/log/mod.ts";
import { connectMcpClient, registerDemoTools, serveMcp } from "../src/mcp/mod.ts";
import { createRootCa, issueCertificate } from "../src/pki/mod.ts";

const bold = (s: string) => (Deno.stdout.isTerminal() ? `\x1b[1m${s}\x1b[0m` : s);
const step = (s: string) => console.log(`\n${bold(s)}`);
let failures = 0;
const fail = (msg: string) => {
  failures++;
  console.log(`  UNEXPECTED: ${msg}`);
};

step("1. Certificates, made in-process (ECDSA P-256)");
const ca = await createRootCa({ commonName: "mcp-mtls Demo CA" });
const otherCa = await createRootCa({ commonName: "Somebody Else's CA" });
const server = await issueCertificate(ca, "server", {
  commonName: "localhost",
  subjectAltNames: "dns:localhost,ip:127.0.0.1,ip:::1",
  exportable: true,
});
const client = (issuer: typeof ca, cn: string, extra: { notAfter?: Date; notBefore?: Date } = {}) =>
  issueCertificate(issuer, "client", {
    commonName: cn,
    subjectAltNames: `uri:spiffe://demo.local/${cn}`,
    exportable: true,
    ...extra,
  });
const agent = await client(ca, "agent");
const intern = await client(ca, "intern");
const expired = await client(ca, "retired", {
  notBefore: new Date(Date.now() - 30 * 86_400_000),
  notAfter: new Date(Date.now() - 86_400_000),
});
const intruder = await client(otherCa, "agent");
console.log(
  `  CA "mcp-mtls Demo CA", server "localhost", clients: agent, intern, retired (expired)`,
);
console.log(`  and an "agent" certificate from another CA`);

step("2. MCP server over mTLS (client certificates required, strict policy)");
const serverLog: string[] = [];
const logger = createLogger({
  level: "info",
  write: (line) => {
    serverLog.push(line);
    console.log(`  server | ${line.replace(/^\S+ /, "")}`);
  },
});
const mcp = await serveMcp(
  () => registerDemoTools(new McpServer({ name: "mcp-mtls-demo", version: "1.0.0" })),
  {
    port: 0,
    tls: { cert: server.certificatePem, key: server.privateKeyPem!, ca: ca.certificatePem },
    authorization: {
      rules: [
        { identity: "spiffe://demo.local/agent", tools: ["*"] },
        { identity: "spiffe://demo.local/intern", tools: ["echo", "time"] },
      ],
    },
    logger,
  },
);
console.log(`  listening at ${mcp.url}`);
console.log(`  rules: agent may call every tool; intern only echo and time`);

const clientLogger = createLogger({
  write: (line) => console.log(`  client | ${line.replace(/^\S+ /, "")}`),
});
const base = {
  ca: ca.certificatePem,
  clientInfo: { name: "demo", version: "1.0.0" },
  logger: clientLogger,
};
const text = (r: unknown) =>
  ((r as { content?: { type: string; text?: string }[] }).content ?? [])
    .map((c) => c.text ?? "").join("");

try {
  step("3. The agent connects with its certificate");
  const ok = await connectMcpClient(mcp.url, {
    ...base,
    cert: agent.certificatePem,
    key: agent.privateKeyPem!,
  });
  try {
    const { tools } = await ok.listTools();
    console.log(`  tools/list  -> ${tools.map((t: { name: string }) => t.name).join(", ")}`);
    const who = JSON.parse(text(await ok.callTool({ name: "whoami", arguments: {} })));
    console.log(`  whoami      -> ${JSON.stringify(who)}`);
    if (!JSON.stringify(who).includes("spiffe://demo.local/agent")) {
      fail("whoami did not return the agent's SPIFFE ID");
    }
    const echoed = text(
      await ok.callTool({ name: "echo", arguments: { text: "hello over mTLS" } }),
    );
    console.log(`  echo        -> ${echoed}`);
  } finally {
    await ok.close();
  }

  step("4. Callers the server refuses, with their reason codes");
  const expectRefusal = async (
    label: string,
    expected: string,
    attempt: () => Promise<unknown>,
  ) => {
    try {
      await attempt();
      fail(`${label}: was admitted, expected "${expected}"`);
    } catch (e) {
      if (e instanceof MtlsError) {
        const mark = e.code === expected ? "refused" : "UNEXPECTED";
        if (e.code !== expected) failures++;
        console.log(`  ${label.padEnd(28)} ${mark}: ${e.code}  (${e.message})`);
      } else {
        fail(`${label}: ${(e as Error).message}`);
      }
    }
  };
  const connectAs = async (cert?: string, key?: string) => {
    const c = await connectMcpClient(mcp.url, { ...base, cert, key });
    await c.close();
  };

  await expectRefusal("no certificate", "no_client_cert", () => connectAs());
  await expectRefusal(
    "certificate from another CA",
    "unknown_ca",
    () => connectAs(intruder.certificatePem, intruder.privateKeyPem),
  );
  await expectRefusal(
    "expired certificate",
    "expired",
    () => connectAs(expired.certificatePem, expired.privateKeyPem),
  );
  await expectRefusal("intern calling whoami", "identity_denied", async () => {
    const c = await connectMcpClient(mcp.url, {
      ...base,
      cert: intern.certificatePem,
      key: intern.privateKeyPem!,
    });
    try {
      const { tools } = await c.listTools();
      console.log(
        `  intern sees tools/list -> ${tools.map((t: { name: string }) => t.name).join(", ")}`,
      );
      await c.callTool({ name: "whoami", arguments: {} });
    } finally {
      await c.close();
    }
  });
} finally {
  await mcp.close();
}

const refusalsLogged = ["no_client_cert", "unknown_ca", "expired", "identity_denied"]
  .filter((r) => !serverLog.some((l) => l.includes(r)));
if (refusalsLogged.length > 0) fail(`server log lacks reasons: ${refusalsLogged.join(", ")}`);

step(
  failures === 0 ? "Demo complete: every step behaved as expected." : `Demo FAILED: ${failures}`,
);
if (failures === 0) {
  console.log("  Next: deno task cli certs init && deno task cli serve --certs certs");
}
Deno.exit(failures === 0 ? 0 : 1);

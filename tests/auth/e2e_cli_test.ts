// `mcp-mtls connect` and `mcp-mtls doctor` with bearer tokens, against
// oidc-provider and serveMcp with `auth` (real processes, real sockets).
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/stdio"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { clientCredentialsToken } from "../../src/auth/client_credentials.ts";
import { certificateThumbprint } from "../../src/auth/thumbprint.ts";
import { doctor } from "../../src/cli/doctor.ts";
import { main } from "../../src/cli/main.ts";
import { createMtlsFetch } from "../../src/mcp/mod.ts";
import { parseCertificates } from "../../src/pki/mod.ts";
import { CLI } from "../bridge/_helpers.ts";
import type { Pair } from "../client/_helpers.ts";
import { moduleTempDir } from "../_temp_dir.ts";
import { authFixtures } from "./_oidc_fixtures.ts";
import { withStack } from "./_oidc_stack.ts";

const dir = await moduleTempDir("mcp-mtls-auth-cli-");
const f = await authFixtures();
const write = async (name: string, text: string) => {
  await Deno.writeTextFile(`${dir}/${name}`, text);
  return `${dir}/${name}`;
};
const files = {
  ca: await write("ca.crt", f.ca),
  agent1: { cert: await write("a1.crt", f.client.cert), key: await write("a1.key", f.client.key) },
  agent2: { cert: await write("a2.crt", f.agent2.cert), key: await write("a2.key", f.agent2.key) },
};

function captureIo(env: Record<string, string> = {}) {
  const io = {
    out: "",
    err: "",
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    env: (name: string) => env[name],
  };
  return io;
}

async function tokenFor(issuer: string, who: Pair, clientId: string, resource: string) {
  const fetch = createMtlsFetch({ ...who, ca: f.ca });
  try {
    return await clientCredentialsToken(
      { issuer, clientId, resource, scope: "tools:whoami" },
      fetch,
    ).token();
  } finally {
    await fetch.close();
  }
}

/** `--cert`, `--key` and `--ca` for one of the two agents. */
function tlsFlags(who: "agent1" | "agent2"): string[] {
  return ["--cert", files[who].cert, "--key", files[who].key, "--ca", files.ca];
}

/** Runs the CLI as a child with no stdin; its exit code and both outputs as text. */
async function runCli(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

async function thumbprint(pem: string): Promise<string> {
  return await certificateThumbprint(parseCertificates(pem)[0].der);
}

Deno.test("connect --oauth-issuer: the stdio client's tool call carries a token bound to our certificate", async () => {
  await withStack(async ({ as, url }) => {
    const transport = new StdioClientTransport({
      command: Deno.execPath(),
      args: [
        "run",
        "-A",
        CLI,
        "connect",
        url,
        ...tlsFlags("agent1"),
        "--oauth-issuer",
        as.issuer,
        "--client-id",
        "agent-1",
        "--scope",
        "tools:whoami",
      ],
      stderr: "pipe",
    });
    let err = "";
    transport.stderr?.on("data", (c: Uint8Array) => (err += new TextDecoder().decode(c)));
    const client = new Client({ name: "auth-cli-test", version: "1.0.0" });
    await client.connect(transport);
    try {
      const who = await client.callTool({ name: "whoami", arguments: {} }) as {
        content: { text: string }[];
      };
      assert.equal(JSON.parse(who.content[0].text).clientId, "agent-1");
      assert.equal(err, "");
    } finally {
      await client.close();
    }
  });
});

Deno.test("connect with a stolen token (--token-env) and another certificate: refused (token_binding_mismatch), exit 1", async () => {
  await withStack(async ({ as, url }) => {
    const stolen = await tokenFor(as.issuer, f.client, "agent-1", url);
    const out = await runCli(
      ["connect", url, ...tlsFlags("agent2"), "--token-env", "STOLEN"],
      { STOLEN: stolen },
    );
    assert.equal(out.code, 1);
    assert.equal(out.stdout, "");
    assert.equal(
      out.stderr,
      `mcp-mtls: refused (token_binding_mismatch): Server refused the request to "${url}" with HTTP 401: Token is bound to another client certificate\n`,
    );
  });
});

Deno.test("connect --oauth-issuer with a certificate the AS does not know for that client: no token (token_request_failed), exit 1", async () => {
  await withStack(async ({ as, url }) => {
    const out = await runCli([
      "connect",
      url,
      ...tlsFlags("agent2"),
      "--oauth-issuer",
      as.issuer,
      "--client-id",
      "agent-1",
    ]);
    assert.equal(out.code, 1);
    assert.equal(out.stdout, "");
    assert.equal(
      out.stderr,
      `mcp-mtls: no token (token_request_failed): Authorization server refused the token request to "${as.mtlsTokenEndpoint}" with HTTP 401: invalid_client (client authentication failed)\n`,
    );
  });
});

Deno.test("connect token flags: bad combinations are usage errors (exit 2) with one clear line", async () => {
  const cases: [string[], Record<string, string>, string][] = [
    [
      ["--token-file", "t", "--oauth-issuer", "https://as.example"],
      {},
      'Options "--token-file", "--token-env" and "--oauth-issuer" exclude each other: give one',
    ],
    [["--client-id", "agent-1"], {}, 'Option "--client-id" needs "--oauth-issuer"'],
    [["--oauth-issuer", "https://as.example"], {}, 'Option "--oauth-issuer" needs "--client-id"'],
    [["--token-env", "NOPE"], {}, 'Environment variable "NOPE" (--token-env) is not set'],
    [
      ["--token-env", "BAD"],
      { BAD: "a b" },
      'Bearer token from environment variable "BAD" is not a valid token (RFC 6750 b64token: letters, digits, "-._~+/", then "=")',
    ],
    [
      [],
      { MCP_MTLS_OAUTH_ISSUER: "https://as.example", MCP_MTLS_OAUTH_CLIENT_ID: "agent-1" },
      'Option "--oauth-issuer" needs "--cert" and "--key": the authorization server knows us by our certificate',
    ],
  ];
  for (const [flags, env, message] of cases) {
    const io = captureIo(env);
    const code = await main(["connect", "https://127.0.0.1:1/mcp", ...flags], io);
    assert.equal(code, 2, `${flags.join(" ")}: ${io.err}`);
    assert.equal(io.err, `mcp-mtls: ${message}\n`);
  }
});

Deno.test("doctor says the server wants a token and names its RFC 9728 metadata (no token: exit 1)", async () => {
  await withStack(async ({ as, url }) => {
    const io = captureIo();
    const code = await doctor([
      url,
      ...tlsFlags("agent1"),
      "--json",
    ], io);
    assert.equal(code, 1, io.out);
    const steps = JSON.parse(io.out).steps as Record<string, unknown>[];
    const auth = steps.find((s) => s.name === "Auth")!;
    assert.equal(auth.status, "fail");
    assert.equal(auth.code, "token_missing");
    const origin = new URL(url).origin;
    assert.equal(
      auth.summary,
      `server wants a bearer token (HTTP 401, WWW-Authenticate: Bearer); metadata at ${origin}/.well-known/oauth-protected-resource/mcp`,
    );
    assert.deepEqual(auth.details, [
      `resource: ${url}`,
      `authorization servers: ${as.issuer}`,
      "scopes: tools:whoami tools:admin",
      "certificate-bound tokens: true",
    ]);
    assert.equal(steps.find((s) => s.name === "MCP")!.status, "skip");
  });
});

Deno.test("doctor --token-file: our token is bound to our certificate, and initialize passes with it", async () => {
  await withStack(async ({ as, url }) => {
    const tokenFile = await write("t1", await tokenFor(as.issuer, f.client, "agent-1", url));
    const io = captureIo();
    const code = await doctor([
      url,
      ...tlsFlags("agent1"),
      "--token-file",
      tokenFile,
    ], io);
    assert.equal(code, 0, io.out);
    assert.match(io.out, /^✔ Auth {7}server wants a bearer token/m);
    assert.ok(
      io.out.includes(
        `✔ Token      the token is bound to our certificate (x5t#S256 ${await thumbprint(
          f.client.cert,
        )})`,
      ),
      io.out,
    );
    assert.match(io.out, /^✔ MCP {8}initialize answered by/m);
  });
});

Deno.test("doctor with another client's token: token_binding_mismatch names both thumbprints", async () => {
  await withStack(async ({ as, url }) => {
    const tokenFile = await write("t2", await tokenFor(as.issuer, f.client, "agent-1", url));
    const io = captureIo();
    const code = await doctor([
      url,
      ...tlsFlags("agent2"),
      "--token-file",
      tokenFile,
      "--json",
    ], io);
    assert.equal(code, 1);
    const token = (JSON.parse(io.out).steps as Record<string, unknown>[])
      .find((s) => s.name === "Token")!;
    assert.equal(token.code, "token_binding_mismatch");
    assert.equal(
      token.summary,
      `the token is bound to certificate ${await thumbprint(
        f.client.cert,
      )}, ours is ${await thumbprint(
        f.agent2.cert,
      )}`,
    );
  });
});

/**
 * A client certificate whose identity is ambiguous (two CNs, a CN in a
 * multi-valued RDN, two SPIFFE IDs) is refused at admission by a real server,
 * strict or demo, with `ambiguous_identity` logged once at warn with the peer;
 * rules keyed on one of its names are never granted; the next good client is
 * served. And an `ip:` rule matches an IPv6 SAN however either is written.
 * Hostile certificates are made by the real openssl and signed by the test CA.
 */
import assert from "node:assert/strict";
import { type OpensslCertSpec, opensslClientCert } from "../policy/_openssl_certs.ts";
import {
  type Credential,
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  parseMcpBody,
  rawPost,
  refusals,
  startServer,
  tryInitialize,
} from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();
const caFiles = { certFile: fx.caAsClient.certFile, keyFile: fx.caAsClient.keyFile };

/** Rules under which each hostile certificate would have gained something. */
const RULES = {
  rules: [
    { identity: "cn:admin", tools: ["*"] },
    { identity: "cn:agent", tools: ["whoami"] },
    { identity: "cn:a", tools: ["*"] },
    { identity: "spiffe://example.org/admin", tools: ["*"] },
    { identity: "spiffe://example.org/agent", tools: ["whoami"] },
  ],
};

const CASES: [string, Omit<OpensslCertSpec, "name">, string][] = [
  [
    "two CNs with admin last",
    { subject: "/CN=agent/CN=admin" },
    'Certificate "CN=agent, CN=admin" is ambiguous: its subject has 2 common names ("agent", "admin")',
  ],
  [
    "two CNs with admin first",
    { subject: "/CN=admin/CN=agent" },
    'Certificate "CN=admin, CN=agent" is ambiguous: its subject has 2 common names ("admin", "agent")',
  ],
  [
    "a CN in a multi-valued RDN",
    { subject: "/CN=a+O=b", multiValueRdn: true },
    'Certificate "CN=a + O=b" is ambiguous: its common name "a" shares a multi-valued RDN with other attributes',
  ],
  [
    "two SPIFFE IDs",
    {
      subject: "/CN=agent",
      subjectAltName: "URI:spiffe://example.org/agent,URI:spiffe://example.org/admin",
    },
    'Certificate "CN=agent" is ambiguous: it has 2 URI SANs ("spiffe://example.org/agent", "spiffe://example.org/admin") ' +
    "and one is a SPIFFE ID; an X.509-SVID must have exactly one URI SAN",
  ],
];

async function sessionTools(url: string, cred: Credential): Promise<string[]> {
  const init = await rawPost(fx, url, cred, INITIALIZE);
  assert.equal(init.status, 200, init.text);
  const h = {
    "mcp-session-id": init.headers.get("mcp-session-id")!,
    "mcp-protocol-version": "2025-06-18",
  };
  await rawPost(fx, url, cred, { jsonrpc: "2.0", method: "notifications/initialized" }, h);
  const list = await rawPost(fx, url, cred, { jsonrpc: "2.0", id: 2, method: "tools/list" }, h);
  const body = parseMcpBody(list.text) as { result: { tools: { name: string }[] } };
  return body.result.tools.map((t) => t.name).sort();
}

async function assertRefusedOnce(
  server: { url: string },
  log: Parameters<typeof refusals>[0],
  cred: Pick<Credential, "cert" | "key">,
  message: string,
): Promise<void> {
  assert.equal(await tryInitialize(fx, server.url, cred), "refused");
  const rec = await log.waitForReason("ambiguous_identity");
  assert.equal(rec.level, "warn");
  assert.match(String(rec.fields.peer), /^127\.0\.0\.1:\d+$/);
  assert.equal(rec.fields.detail, message);
  assert.equal(refusals(log, "ambiguous_identity").length, 1, "logged once");
  assert.ok(
    !log.records.some((r) => r.msg === "client admitted" && r.fields.peer === rec.fields.peer),
    "never admitted",
  );
}

for (const [what, spec, message] of CASES) {
  Deno.test(`serveMcp() refuses a client certificate with ${what} (ambiguous_identity) and serves the next client`, async () => {
    const name = what.replace(/[^a-z0-9]+/gi, "-");
    const hostile = await opensslClientCert(fx.dir, { name, ca: caFiles, ...spec });
    const { server, log } = await startServer(fx, { authorization: RULES });
    try {
      await assertRefusedOnce(server, log, hostile, message);
      // The next good clients are served, with exactly what their rules grant.
      assert.deepStrictEqual(await sessionTools(server.url, fx.alice), ["whoami"]); // spiffe://example.org/agent
      const agent = await opensslClientCert(fx.dir, {
        name: `${name}-good`,
        subject: "/CN=agent",
        ca: caFiles,
      });
      assert.deepStrictEqual(
        await sessionTools(server.url, { ...agent, bundle: fx.alice.bundle }),
        ["whoami"],
      );
    } finally {
      await server.close();
    }
  });
}

Deno.test("serveMcp() with the demo policy refuses a self-signed certificate with two CNs (ambiguous_identity)", async () => {
  const hostile = await opensslClientCert(fx.dir, {
    name: "demo-two-cn",
    subject: "/CN=agent/CN=admin",
  });
  const { server, log } = await startServer(fx, { policy: "demo" });
  try {
    await assertRefusedOnce(
      server,
      log,
      hostile,
      'Certificate "CN=agent, CN=admin" is ambiguous: its subject has 2 common names ("agent", "admin")',
    );
    assert.equal(await tryInitialize(fx, server.url, fx.selfSigned), 200);
  } finally {
    await server.close();
  }
});

Deno.test("serveMcp() grants an ip: rule to an IPv6 SAN however the rule and the certificate write the address", async () => {
  const client = await opensslClientCert(fx.dir, {
    name: "ipv6",
    subject: "/CN=ipv6",
    subjectAltName: "IP:1:0:0:2:0:0:0:3,IP:::ffff:10.0.0.9",
    ca: caFiles,
  });
  const { server } = await startServer(fx, {
    authorization: {
      rules: [
        { identity: "ip:1:0:0:2::3", tools: ["whoami"] }, // RFC 5952, as node:crypto prints it
        { identity: "ip:1::2:0:0:0:3", tools: ["echo"] }, // the first-run compression
        { identity: "ip:::ffff:a00:9", tools: ["time"] }, // IPv4-mapped in hex
        { identity: "ip:1:0:0:2::4", tools: ["never"] },
      ],
    },
  });
  try {
    const tools = await sessionTools(server.url, { ...client, bundle: fx.alice.bundle });
    assert.deepStrictEqual(tools, ["echo", "time", "whoami"]);
  } finally {
    await server.close();
  }
});

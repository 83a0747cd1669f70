/**
 * Name constraints and trust-anchor checks on a real server: a client inside
 * its intermediate's permitted subtree is admitted over a real socket, one
 * with an excluded name is refused with the exact reason and message (logged
 * once, at warn, with the peer), and the next good client is still served.
 * A configured CA that cannot be a trust anchor stops the server at start
 * (one line from the CLI) and is refused at reload, the last good CAs kept.
 */
import assert from "node:assert/strict";
import { serve } from "../../src/cli/serve.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { ConfigError } from "../../src/errors.ts";
import type { ObservableMcpServer } from "../../src/mcp/server.ts";
import { withTempDir } from "../pki/_openssl.ts";
import { type Issued, NcPki } from "../policy/_nc_pki.ts";
import { type Fixtures, makeFixtures, refusals, startServer, tryInitialize } from "./_fixtures.ts";

/** A client credential presenting its chain (leaf, then the intermediate). */
const presenting = (leaf: Issued, int: Issued) => ({ cert: leaf.cert + int.cert, key: leaf.key });

async function withPki(fn: (pki: NcPki, fx: Fixtures) => Promise<void>): Promise<void> {
  const fx = await makeFixtures();
  await withTempDir((dir) => fn(new NcPki(dir), fx));
}

Deno.test("serveMcp() admits a client inside its CA's name constraints and refuses an excluded one with unknown_ca", async () => {
  await withPki(async (pki, fx) => {
    const root = await pki.ca("/CN=NC Root", []);
    const int = await pki.ca("/CN=Team CA", [
      "nameConstraints=critical,permitted;DNS:.example.com,excluded;IP:10.0.0.0/255.0.0.0",
    ], root);
    const good = await pki.leaf(int, "/CN=agent", ["subjectAltName=DNS:agent.example.com"]);
    const excluded = await pki.leaf(int, "/CN=rogue", [
      "subjectAltName=DNS:rogue.example.com,IP:10.1.2.3",
    ]);
    const outside = await pki.leaf(int, "/CN=stray", ["subjectAltName=DNS:stray.other.org"]);
    const { server, log } = await startServer(fx, { tls: { ca: root.cert } });
    try {
      assert.equal(await tryInitialize(fx, server.url, presenting(good, int)), 200);
      const cases: [Issued, string][] = [
        [
          excluded,
          'Certificate "CN=rogue" has IP address "10.1.2.3", which intermediate CA "CN=Team CA" ' +
          "excludes (IP:10.0.0.0/8)",
        ],
        [
          outside,
          'Certificate "CN=stray" has DNS name "stray.other.org", which intermediate CA ' +
          '"CN=Team CA" does not permit (permitted: DNS:.example.com)',
        ],
      ];
      for (const [leaf, message] of cases) {
        const before = refusals(log, "unknown_ca").length;
        assert.equal(await tryInitialize(fx, server.url, presenting(leaf, int)), "refused");
        await log.waitForReason("unknown_ca");
        const mine = refusals(log, "unknown_ca").slice(before);
        assert.equal(mine.length, 1, `logged once: ${JSON.stringify(mine)}`);
        assert.equal(mine[0].level, "warn");
        assert.match(String(mine[0].fields.peer), /^127\.0\.0\.1:\d+$/);
        assert.equal(mine[0].fields.detail, message);
        // The next good client is still served.
        assert.equal(await tryInitialize(fx, server.url, presenting(good, int)), 200);
      }
    } finally {
      await server.close();
    }
  });
});

/** CAs that cannot be trust anchors, and the exact ConfigError each gives. */
async function badAnchors(pki: NcPki): Promise<[string, string, string][]> {
  const leaf = await pki.issue("/CN=Not A CA", [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
  ]);
  const noSign = await pki.issue("/CN=No KeyCertSign", [
    "basicConstraints=critical,CA:TRUE",
    "keyUsage=critical,digitalSignature,cRLSign",
  ]);
  const noBc = await pki.issue("/O=Example/CN=No BC", ["keyUsage=critical,keyCertSign"]);
  const critical = await pki.ca("/CN=Critical Ext", ["1.2.3.4.5.6.7=critical,ASN1:UTF8String:x"]);
  const mappings = await pki.ca("/CN=Mappings", [
    "policyMappings=critical,1.2.3.4:1.2.3.5",
    "certificatePolicies=1.2.3.4",
  ]);
  const malformed = await pki.ca("/CN=Bad NC", ["2.5.29.30=critical,DER:3000"]);
  return [
    [
      "not a CA",
      leaf.cert,
      'Option "tls.ca" holds "CN=Not A CA", which is not a CA certificate (basicConstraints cA is not set)',
    ],
    [
      "no basicConstraints",
      noBc.cert,
      'Option "tls.ca" holds "O=Example, CN=No BC", which is not a CA certificate (basicConstraints cA is not set)',
    ],
    [
      "no keyCertSign",
      noSign.cert,
      'Option "tls.ca" holds CA certificate "CN=No KeyCertSign", whose key usage does not allow keyCertSign',
    ],
    [
      "unknown critical extension",
      critical.cert,
      'Option "tls.ca" holds CA certificate "CN=Critical Ext" with critical extension 1.2.3.4.5.6.7, which is not supported',
    ],
    [
      "critical policyMappings",
      mappings.cert,
      'Option "tls.ca" holds CA certificate "CN=Mappings" with critical extension policyMappings (2.5.29.33), which is not supported',
    ],
    [
      "malformed nameConstraints",
      malformed.cert,
      'Option "tls.ca" holds CA certificate "CN=Bad NC" with a malformed nameConstraints extension: it has neither permittedSubtrees nor excludedSubtrees',
    ],
  ];
}

Deno.test("serveMcp() refuses to start with a CA that cannot be a trust anchor (ConfigError naming it)", async () => {
  await withPki(async (pki, fx) => {
    for (const [what, pem, message] of await badAnchors(pki)) {
      await assert.rejects(
        // A good CA beside it does not save it: every configured CA is checked.
        () => startServer(fx, { tls: { ca: [fx.ca, pem] } }),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError, `${what}: ${e}`);
          assert.equal(e.message, message, what);
          assert.equal(e.key, "tls.ca");
          return true;
        },
      );
    }
  });
});

Deno.test("reloadTls() refuses a CA that cannot be a trust anchor and keeps serving with the last good CAs", async () => {
  await withPki(async (pki, fx) => {
    const { server, log } = await startServer(fx);
    try {
      const [, pem, message] = (await badAnchors(pki))[0];
      await assert.rejects(
        // serveMcp() returns an ObservableMcpServer; startServer() types it narrower.
        () =>
          (server as ObservableMcpServer).reloadTls({
            cert: fx.server.cert,
            key: fx.server.key,
            ca: pem,
          }),
        (e: unknown) => e instanceof ConfigError && e.message === message,
      );
      assert.ok(log.records.some((r) => r.level === "error" && r.fields.error === message));
      // The old CA still admits its client.
      assert.equal(await tryInitialize(fx, server.url, fx.alice), 200);
    } finally {
      await server.close();
    }
  });
});

Deno.test("serve --certs exits 1 with one line when ca.crt is not a CA", async () => {
  await withPki(async (pki, fx) => {
    const dir = `${pki.dir}/certs`;
    await Deno.mkdir(dir);
    await Deno.copyFile(fx.server.certFile, `${dir}/server.crt`);
    await Deno.copyFile(fx.server.keyFile, `${dir}/server.key`);
    const leaf = await pki.issue("/CN=Not A CA", ["basicConstraints=critical,CA:FALSE"]);
    await Deno.writeTextFile(`${dir}/ca.crt`, leaf.cert);
    let err = "";
    const io: CliIo = { stdout: () => {}, stderr: (t) => void (err += t), env: () => undefined };
    // Were the CA accepted, the server would run: stop it rather than hang.
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 10_000);
    try {
      assert.equal(await serve(["--certs", dir, "--port", "0"], io, { signal: ac.signal }), 1);
    } finally {
      clearTimeout(timer);
    }
    assert.equal(
      err,
      'mcp-mtls: Option "tls.ca" holds "CN=Not A CA", which is not a CA certificate (basicConstraints cA is not set)\n',
    );
  });
});

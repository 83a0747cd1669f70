// The client checking the server certificate's revocation before it sends
// anything: CRLs signed by our PKI, and OCSP against a real `openssl ocsp`
// responder on 127.0.0.1 (the revocation tests' own fixture).
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { connectMcpClient, createMtlsFetch, type MtlsFetchOptions } from "../../src/mcp/mod.ts";
import { ConfigError, PeerRejectedError } from "../../src/errors.ts";
import { createCrl, createIntermediateCa, crlToPem, issueCertificate } from "../../src/pki/mod.ts";
import type { CertificateBundle } from "../../src/pki/mod.ts";
import { createRevocationChecker } from "../../src/revocation/mod.ts";
import { makeOpensslCa, startResponder } from "../revocation/_openssl.ts";
import {
  fixtures,
  type Pair,
  recordingLogger,
  startMcpServer,
  startServer,
  type TestServer,
} from "./_helpers.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;

async function writeCrl(
  dir: string,
  name: string,
  issuer: CertificateBundle,
  revoked: string[],
): Promise<string> {
  const der = await createCrl(
    issuer,
    revoked.map((serialNumber) => ({
      serialNumber,
      revocationDate: new Date(Date.now() - 60_000),
      reason: "keyCompromise" as const,
    })),
    { crlNumber: 1 },
  );
  const path = `${dir}/${name}.crl`;
  await Deno.writeTextFile(path, crlToPem(der));
  return path;
}

/** One GET from a fresh client (closed afterwards): the text, or the error. */
async function get(server: TestServer, options: MtlsFetchOptions): Promise<unknown> {
  const fetch = createMtlsFetch(options);
  try {
    return await (await fetch(server.url)).text();
  } catch (e) {
    return e;
  } finally {
    await fetch.close();
  }
}

function assertRefused(result: unknown, code: string, message: RegExp): void {
  assert.ok(result instanceof PeerRejectedError, `expected a PeerRejectedError, got ${result}`);
  assert.equal(result.code, code);
  assert.match(result.message, message);
}

Deno.test("a server certificate revoked in a CRL is refused with revoked before any request", async () => {
  const f = await fixtures();
  const dir = await moduleTempDir("client-crl-");
  const servers: TestServer[] = [];
  try {
    const crl = await writeCrl(dir, "ca", f.caBundle, [serialOf(f.backupServer.cert)]);
    const revocation = { crls: [crl], issuers: [f.ca] };
    const client = { ...f.client, ca: f.ca, logger: recordingLogger(), revocation };

    const good = await startServer({ ...f.server, ca: f.ca });
    servers.push(good);
    assert.equal(await get(good, client), "ok");

    const revoked = await startMcpServer({ ...f.backupServer, ca: f.ca });
    servers.push(revoked);
    let error: unknown;
    try {
      await (await connectMcpClient(revoked.url + "mcp", client)).close();
    } catch (e) {
      error = e;
    }
    assertRefused(
      error,
      "revoked",
      /^Server "127\.0\.0\.1:\d+" certificate \("CN=backup"\) refused: Certificate serial "[0-9a-f]+" is revoked \(keyCompromise\)/,
    );
    assert.equal(revoked.requests, 0, "no MCP request may reach a revoked server");
  } finally {
    for (const s of servers) await s.close();
  }
});

Deno.test("with revocation on, the server refusing our certificate is still told apart from a revoked server", async () => {
  const f = await fixtures();
  const dir = await moduleTempDir("client-crl-refusal-");
  const good = await startServer({ ...f.server, ca: f.ca });
  const revokedServer = await startServer({ ...f.backupServer, ca: f.ca });
  try {
    const crl = await writeCrl(dir, "ca", f.caBundle, [serialOf(f.backupServer.cert)]);
    const base = { ca: f.ca, logger: recordingLogger(), revocation: { crls: [crl] } };
    // The server's refusal arrives while (or after) we check its certificate: it is still ours to report.
    assertRefused(await get(good, base), "no_client_cert", /requires a client certificate/);
    assertRefused(
      await get(good, { ...base, ...f.otherClient }),
      "unknown_ca",
      /closed the connection/,
    );
    // A revoked server is refused for that, whatever it thinks of us.
    assertRefused(await get(revokedServer, base), "revoked", /is revoked \(keyCompromise\)/);
    assert.equal(good.requests + revokedServer.requests, 0);
  } finally {
    await good.close();
    await revokedServer.close();
  }
});

Deno.test("tofu never remembers a revoked key, and keeps a key it knew when that server is later revoked", async () => {
  const f = await fixtures();
  const dir = await moduleTempDir("client-crl-tofu-");
  const server = await startServer({ ...f.backupServer, ca: f.ca });
  try {
    const revokedCrl = await writeCrl(dir, "revoked", f.caBundle, [serialOf(f.backupServer.cert)]);
    const emptyCrl = await writeCrl(dir, "empty", f.caBundle, []);
    const path = `${dir}/known_servers.json`;
    const name = `127.0.0.1:${server.port}`;
    const attempt = (crl: string) =>
      get(server, {
        ...f.client,
        ca: f.ca,
        logger: recordingLogger(),
        pinStore: path,
        tofu: true,
        revocation: { crls: [crl] },
      });
    const pins = async () => JSON.parse(await Deno.readTextFile(path)).pins;

    assertRefused(await attempt(revokedCrl), "revoked", /is revoked/);
    assert.deepEqual(await pins(), {}, "a first-use pin of a revoked server is taken back");

    assert.equal(await attempt(emptyCrl), "ok");
    const known = (await pins())[name];
    assert.ok(known?.tofu, JSON.stringify(known));
    assertRefused(await attempt(revokedCrl), "revoked", /is revoked/);
    assert.deepEqual((await pins())[name], known, "a pin known before the refusal stays");
    assert.equal(server.requests, 1);
  } finally {
    await server.close();
  }
});

Deno.test("a revoked intermediate CA is refused only with revocationIntermediates", async () => {
  const f = await fixtures();
  const dir = await moduleTempDir("client-crl-int-");
  const int = await createIntermediateCa(f.caBundle, { commonName: "Revoked Intermediate" });
  const leaf = await issueCertificate(int, "server", {
    commonName: "localhost",
    subjectAltNames: "dns:localhost,ip:127.0.0.1",
    exportable: true,
  });
  const chain: Pair = { cert: leaf.certificatePem + int.certificatePem, key: leaf.privateKeyPem! };
  const server = await startServer({ ...chain, ca: f.ca });
  try {
    const crls = [
      await writeCrl(dir, "root", f.caBundle, [serialOf(int.certificatePem)]),
      await writeCrl(dir, "intermediate", int, []),
    ];
    const revocation = { crls, issuers: [f.ca, int.certificatePem] };
    const client = { ...f.client, ca: f.ca, logger: recordingLogger(), revocation };
    assert.equal(await get(server, client), "ok", "the leaf alone is good");
    assertRefused(
      await get(server, { ...client, revocationIntermediates: true }),
      "revoked",
      /certificate \("CN=Revoked Intermediate"\) refused: Certificate serial "[0-9a-f]+" is revoked/,
    );
    assert.equal(server.requests, 1);
  } finally {
    await server.close();
  }
});

Deno.test("OCSP for the server certificate against a real openssl ocsp responder", async (t) => {
  const root = await moduleTempDir("client-ocsp-");
  const ca = await makeOpensslCa(root, "ClientOcspCA");
  const responder = await startResponder(ca, await ca.issueResponder("responder"));
  const url = responder.url;
  await ca.setOcspUrl(url);
  // The fixture's leaves carry no SAN; our servers are checked by host name.
  const cnf = `${ca.dir}/ca.cnf`;
  await Deno.writeTextFile(
    cnf,
    (await Deno.readTextFile(cnf)).replace(
      "[ leaf ]\n",
      "[ leaf ]\nsubjectAltName = DNS:localhost, IP:127.0.0.1\n",
    ),
  );
  const pair = async (cn: string): Promise<Pair> => {
    const { path } = await ca.issue(cn);
    return {
      cert: await Deno.readTextFile(path),
      key: await Deno.readTextFile(`${ca.dir}/${cn}.key`),
    };
  };
  const [good, revoked, client] = [await pair("good"), await pair("revoked"), await pair("agent")];
  await ca.revoke(`${ca.dir}/revoked.crt`, "keyCompromise");
  const caPem = await Deno.readTextFile(ca.caPath);
  await responder.sync();
  const goodServer = await startServer({ ...good, ca: caPem });
  const revokedServer = await startServer({ ...revoked, ca: caPem });
  const base = { ...client, ca: caPem };
  try {
    await t.step("a good certificate is admitted", async () => {
      const logger = recordingLogger();
      assert.equal(await get(goodServer, { ...base, logger, revocation: { ocsp: true } }), "ok");
      assert.deepEqual(logger.records.filter((r) => r.level === "warn"), []);
    });

    await t.step("a revoked certificate is refused with revoked and no request", async () => {
      const result = await get(revokedServer, {
        ...base,
        logger: recordingLogger(),
        revocation: { ocsp: true },
      });
      assertRefused(
        result,
        "revoked",
        new RegExp(
          `^Server "127\\.0\\.0\\.1:\\d+" certificate \\("CN=revoked"\\) refused: Certificate serial ` +
            `"[0-9a-f]+" is revoked \\(keyCompromise\\): OCSP responder "${url}" says revoked$`,
        ),
      );
      assert.equal(revokedServer.requests, 0);
    });

    await t.step(
      "the server refusing us while the OCSP answer is awaited is reported as that",
      async () => {
        // Our certificate-less client finishes the handshake; the server's alert arrives mid-check.
        const slow = async (input: string, init?: RequestInit) => {
          await new Promise((r) => setTimeout(r, 300));
          return await fetch(input, init);
        };
        const result = await get(goodServer, {
          ca: caPem,
          logger: recordingLogger(),
          revocation: { ocsp: true, fetch: slow },
        });
        assertRefused(result, "no_client_cert", /requires a client certificate/);
      },
    );

    await t.step("a cached good answer admits without the responder (warm cache)", async () => {
      let asked = 0;
      const counting = (input: string, init?: RequestInit) => (asked++, fetch(input, init));
      const checker = createRevocationChecker({
        ocsp: true,
        fetch: counting,
        logger: recordingLogger(),
      });
      try {
        assert.equal(await get(goodServer, { ...base, revocation: checker }), "ok");
        assert.equal(asked, 1);
        await responder.stop();
        assert.equal(await get(goodServer, { ...base, revocation: checker }), "ok");
        assert.equal(asked, 1, "the cached answer decided: the stopped responder was not asked");
      } finally {
        checker.close();
      }
    });

    await t.step('the responder stopped, failureMode "deny": revocation_unknown', async () => {
      const before = goodServer.requests;
      const result = await get(goodServer, {
        ...base,
        logger: recordingLogger(),
        revocation: { ocsp: true, failureMode: "deny" },
      });
      assertRefused(
        result,
        "revocation_unknown",
        /^Server "127\.0\.0\.1:\d+" certificate \("CN=good"\) refused: Cannot establish the revocation status/,
      );
      assert.equal(goodServer.requests, before, "no request before the verdict");
    });

    await t.step(
      'the responder stopped, failureMode "allow": admitted, with a warning',
      async () => {
        const logger = recordingLogger();
        const result = await get(goodServer, {
          ...base,
          logger,
          revocation: { ocsp: true, failureMode: "allow" },
        });
        assert.equal(result, "ok");
        const warnings = logger.records.filter((r) => r.level === "warn").map((r) => r.msg);
        assert.ok(
          warnings.some((m) =>
            /^Admitting certificate serial "[0-9a-f]+" with unknown revocation status/.test(m)
          ),
          warnings.join("\n"),
        );
      },
    );
  } finally {
    await responder.stop();
    await goodServer.close();
    await revokedServer.close();
  }
});

Deno.test("createMtlsFetch() refuses bad revocation options with a ConfigError naming the key", () => {
  const cases: [MtlsFetchOptions, string, RegExp][] = [
    [
      { revocation: "crl" as unknown as undefined },
      "revocation",
      /must be revocation checker options/,
    ],
    [
      { revocation: { failureMode: "maybe" as "deny" } },
      "revocation.failureMode",
      /^Option "revocation": Option "failureMode" must be deny or allow, got "maybe"$/,
    ],
    [{ revocation: { timeout: -1 } }, "revocation.timeout", /non-negative/],
    [{ revocationIntermediates: true }, "revocationIntermediates", /needs "revocation"/],
  ];
  for (const [options, key, message] of cases) {
    assert.throws(() => createMtlsFetch(options), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.key, key);
      assert.match(e.message, message);
      return true;
    });
  }
});

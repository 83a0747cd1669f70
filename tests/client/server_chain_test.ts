// The client judges the server's chain with the rules of the server's chain
// validator (serverAuth in place of clientAuth), after the TLS stack's own
// check: chains made by openssl, each verdict compared with `openssl verify
// -purpose sslserver`, over real sockets. The stack refuses most of these with
// one code on Deno (UNABLE_TO_VERIFY_LEAF_SIGNATURE); our rules name them.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readCertificate } from "../../src/cert/mod.ts";
import { createMtlsFetch } from "../../src/mcp/mod.ts";
import { PeerRejectedError } from "../../src/errors.ts";
import { verifyServerChain } from "../../src/policy/verify_server_chain.ts";
import { checkServerChain } from "../../src/tls/client/verify.ts";
import {
  type OpensslServerCerts,
  opensslServerCerts,
  opensslVerifyServer,
} from "../portable/_client_openssl.ts";
import { fixtures, recordingLogger, startServer } from "./_helpers.ts";

const LOCAL = "DNS:localhost,IP:127.0.0.1";

let made: Promise<OpensslServerCerts> | undefined;

function certs(): Promise<OpensslServerCerts> {
  made ??= opensslServerCerts({
    int: { subject: "/CN=Good Int", ca: {} },
    leaf: { subject: "/CN=leaf", san: LOCAL, issuer: "int" },
    clientInt: { subject: "/CN=Client-only Int", ca: {}, eku: "clientAuth" },
    underClientInt: { subject: "/CN=under-client-int", san: LOCAL, issuer: "clientInt" },
    int0: { subject: "/CN=Int pathlen 0", ca: { pathlen: 0 } },
    subInt: { subject: "/CN=Sub Int", ca: {}, issuer: "int0" },
    tooDeep: { subject: "/CN=too-deep", san: LOCAL, issuer: "subInt" },
    criticalInt: {
      subject: "/CN=Critical Int",
      ca: {},
      extensions: ["1.3.6.1.4.1.55555.1=critical,ASN1:UTF8String:must be understood"],
    },
    underCriticalInt: { subject: "/CN=under-critical", san: LOCAL, issuer: "criticalInt" },
    sha1Leaf: { subject: "/CN=sha1-leaf", san: LOCAL, issuer: "int", digest: "sha1" },
  });
  return made;
}

/** The server's chain as it sends it, leaf first, and the intermediates alone. */
async function chainOf(...names: string[]): Promise<{ cert: string; key: string; int: string }> {
  const c = await certs();
  const [leaf, ...ints] = names.map((n) => c.leaves[n]);
  const int = ints.map((i) => i.cert).join("");
  return { cert: leaf.cert + int, key: leaf.key, int };
}

/** One request through `chain`; the verdict, and whether a request reached the server. */
async function request(chain: { cert: string; key: string }) {
  const f = await fixtures();
  const c = await certs();
  const server = await startServer({ ...chain, ca: f.ca });
  const fetch = createMtlsFetch({ ...f.client, ca: c.ca, logger: recordingLogger() });
  try {
    const result = await fetch(server.url).then((r) => r.text(), (e) => e);
    return { result, requests: server.requests, port: server.port };
  } finally {
    await fetch.close();
    await server.close();
  }
}

const CASES = [
  {
    name: "an intermediate CA whose EKU lacks serverAuth",
    chain: ["underClientInt", "clientInt"],
    code: "bad_key_usage",
    message:
      /refused: Intermediate CA "CN=Client-only Int" extended key usage does not allow serverAuth \(has 1\.3\.6\.1\.5\.5\.7\.3\.2\), so it cannot vouch for a server certificate$/,
  },
  {
    name: "a chain longer than an intermediate's pathLenConstraint",
    chain: ["tooDeep", "subInt", "int0"],
    code: "unknown_ca",
    message:
      /refused: Path length constraint exceeded: Intermediate CA "CN=Int pathlen 0" has pathLen 0 but 1 intermediate CA certificate below it$/,
  },
  {
    name: "an intermediate CA with an unknown critical extension",
    chain: ["underCriticalInt", "criticalInt"],
    code: "unknown_ca",
    message:
      /refused: Certificate "CN=Critical Int" has critical extension 1\.3\.6\.1\.4\.1\.55555\.1, which is not supported$/,
  },
  {
    name: "a leaf signed with SHA-1 by an intermediate",
    chain: ["sha1Leaf", "int"],
    code: "weak_signature",
    message: /refused: Server certificate "CN=sha1-leaf" is signed with SHA-1 \(ecdsa-with-SHA1/,
  },
] as const;

for (const c of CASES) {
  Deno.test(`createMtlsFetch() refuses ${c.name} with ${c.code}, as openssl verify does`, async () => {
    const chain = await chainOf(...c.chain);
    const r = await request(chain);
    assert.ok(r.result instanceof PeerRejectedError, `expected a refusal, got ${r.result}`);
    assert.equal(r.result.code, c.code);
    assert.match(r.result.message, new RegExp(`^Server "127\\.0\\.0\\.1:${r.port}" certificate `));
    assert.match(r.result.message, c.message);
    assert.equal(r.requests, 0, "no request may reach a refused server");
    const all = await certs();
    // At security level 1, as every TLS stack here (plain `openssl verify` takes SHA-1).
    const openssl = await opensslVerifyServer(all.ca, all.leaves[c.chain[0]].cert, {
      untrusted: chain.int,
      args: ["-auth_level", "1"],
    });
    assert.equal(openssl.ok, false, openssl.output);
  });
}

Deno.test("createMtlsFetch() admits a server chain through a good intermediate, as openssl verify does", async () => {
  const chain = await chainOf("leaf", "int");
  const r = await request(chain);
  assert.equal(r.result, "ok");
  const all = await certs();
  const openssl = await opensslVerifyServer(all.ca, all.leaves.leaf.cert, {
    host: "localhost",
    untrusted: chain.int,
    args: ["-auth_level", "1"],
  });
  assert.equal(openssl.ok, true, openssl.output);
});

Deno.test("verifyServerChain() completes a leaf-only path from the configured CAs (Bun shows the leaf alone)", async () => {
  const all = await certs();
  const x = (pem: string) => readCertificate(pem);
  const now = new Date();
  const anchors = [x(all.ca), x(all.leaves.int0.cert), x(all.leaves.subInt.cert)];
  // The intermediates are in `ca`, the leaf alone is shown: the path is rebuilt and judged.
  assert.match(
    verifyServerChain([x(all.leaves.tooDeep.cert)], { anchors, now })?.message ?? "",
    /^Path length constraint exceeded: Intermediate CA "CN=Int pathlen 0" has pathLen 0/,
  );
  // Without them the path stops at the leaf, which is judged alone.
  assert.equal(verifyServerChain([x(all.leaves.tooDeep.cert)], { anchors: [], now }), undefined);
  assert.equal(
    verifyServerChain([x(all.leaves.sha1Leaf.cert)], { anchors: [], now })?.reason,
    "weak_signature",
  );
});

Deno.test("checkServerChain() remembers a chain that passed only within its validity window", async () => {
  const all = await certs();
  const der = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);
  const path = [der(all.leaves.leaf.cert), der(all.leaves.int.cert), der(all.ca)];
  const anchors = [readCertificate(all.ca)];
  assert.equal(checkServerChain(path, anchors, "p:1"), undefined);
  // The same chain, remembered as passing, is judged again once the clock leaves its window.
  const later = new Date(Date.now() + 3 * 86_400_000);
  const expired = checkServerChain(path, anchors, "p:1", later);
  assert.equal(expired?.reason, "expired");
  assert.match(
    expired!.message,
    /^Server "p:1" certificate \("CN=leaf"\) refused: Certificate "CN=/,
  );
  assert.equal(checkServerChain(path, anchors, "p:1"), undefined);
});

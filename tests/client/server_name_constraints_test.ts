// The client applies a CA's name constraints to the server's chain, as the
// server does to client chains (RFC 5280 §4.2.1.10): a server certificate
// outside a permitted subtree, or inside an excluded one, is refused, and one
// inside is accepted. Chains made by openssl, verdicts next to openssl verify.
import assert from "node:assert/strict";
import { readCertificate } from "../../src/cert/mod.ts";
import { verifyServerChain } from "../../src/policy/verify_server_chain.ts";
import { CA_EXT, NcPki } from "../policy/_nc_pki.ts";
import { openssl } from "../pki/_openssl.ts";

const SERVER_EXT = [
  "basicConstraints=critical,CA:FALSE",
  "keyUsage=critical,digitalSignature",
  "extendedKeyUsage=serverAuth",
  "subjectKeyIdentifier=hash",
];

Deno.test("verifyServerChain() applies an intermediate's name constraints to the server certificate, as openssl does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcp-mtls-server-nc-" });
  try {
    const pki = new NcPki(dir);
    const root = await pki.issue("/CN=NC Root", CA_EXT);
    const int = await pki.issue("/CN=NC Int", [
      ...CA_EXT,
      "nameConstraints=critical,permitted;DNS:.example.com,permitted;IP:127.0.0.0/255.0.0.0,excluded;DNS:bad.example.com",
    ], { issuer: root });
    const cases: [string, string, string | undefined][] = [
      ["inside", "DNS:api.example.com,IP:127.0.0.1", undefined],
      ["outside the permitted DNS subtree", "DNS:api.other.com", "unknown_ca"],
      ["in the excluded subtree", "DNS:bad.example.com", "unknown_ca"],
      ["an IP outside 127/8", "DNS:api.example.com,IP:10.0.0.1", "unknown_ca"],
    ];
    for (const [what, san, expected] of cases) {
      const leaf = await pki.issue("/CN=server", [...SERVER_EXT, `subjectAltName=${san}`], {
        issuer: int,
      });
      const refusal = verifyServerChain(
        [readCertificate(leaf.cert), readCertificate(int.cert)],
        { anchors: [readCertificate(root.cert)], now: new Date() },
      );
      assert.equal(refusal?.reason, expected, `${what}: ${refusal?.message}`);
      if (expected) {
        assert.match(
          refusal!.message,
          /^Certificate "CN=server" has (DNS name|IP address) "[^"]+", which intermediate CA "CN=NC Int" (does not permit \(permitted: |excludes \()/,
          what,
        );
      }
      const ossl = await openssl([
        "verify",
        "-purpose",
        "sslserver",
        "-x509_strict",
        "-CAfile",
        root.certFile,
        "-untrusted",
        int.certFile,
        leaf.certFile,
      ]);
      assert.equal(ossl.code === 0, expected === undefined, `openssl and we disagree on ${what}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Identity extraction is unambiguous: a certificate whose identity-bearing
 * fields could name two peers (several CNs, a CN inside a multi-valued RDN,
 * a SPIFFE ID beside other URI SANs) is refused with `ambiguous_identity`
 * by peerIdentity() and by every policy, instead of one name being picked.
 * Certificates are made by the real openssl, since our PKI cannot make them.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readCertificate } from "../../src/cert/mod.ts";
import { isMtlsError } from "../../src/errors.ts";
import {
  compileAuthorization,
  compilePolicy,
  identityLabel,
  peerIdentity,
} from "../../src/policy/mod.ts";
import { commonNamesOf } from "../../src/policy/identity.ts";
import { createRootCa, issueCertificate, parseSubjectAltNames } from "../../src/pki/mod.ts";
import { type OpensslCertSpec, opensslClientCert } from "./_openssl_certs.ts";

const dir = await Deno.makeTempDir({ prefix: "mcp-mtls-identity-test-" });
const ca = await createRootCa({ commonName: "Identity Test CA", exportable: true });
const caFiles = { certFile: `${dir}/ca.crt`, keyFile: `${dir}/ca.key` };
await Deno.writeTextFile(caFiles.certFile, ca.certificatePem);
await Deno.writeTextFile(caFiles.keyFile, ca.privateKeyPem!, { mode: 0o600 });

/** Each hostile certificate and the exact refusal message it must get. */
const AMBIGUOUS: [string, Omit<OpensslCertSpec, "name" | "ca">, string][] = [
  [
    "two CNs, admin last",
    { subject: "/CN=agent/CN=admin" },
    'Certificate "CN=agent, CN=admin" is ambiguous: its subject has 2 common names ("agent", "admin")',
  ],
  [
    "two CNs, admin first",
    { subject: "/CN=admin/CN=agent" },
    'Certificate "CN=admin, CN=agent" is ambiguous: its subject has 2 common names ("admin", "agent")',
  ],
  [
    "two CNs around another attribute",
    { subject: "/CN=agent/O=Example/CN=admin" },
    'Certificate "CN=agent, O=Example, CN=admin" is ambiguous: its subject has 2 common names ("agent", "admin")',
  ],
  [
    "a CN in a multi-valued RDN",
    { subject: "/CN=a+O=b", multiValueRdn: true },
    'Certificate "CN=a + O=b" is ambiguous: its common name "a" shares a multi-valued RDN with other attributes',
  ],
  [
    "two SPIFFE URI SANs",
    {
      subject: "/CN=agent",
      subjectAltName: "URI:spiffe://example.org/agent,URI:spiffe://example.org/admin",
    },
    'Certificate "CN=agent" is ambiguous: it has 2 URI SANs ("spiffe://example.org/agent", "spiffe://example.org/admin") ' +
    "and one is a SPIFFE ID; an X.509-SVID must have exactly one URI SAN",
  ],
  [
    "a SPIFFE URI SAN beside another URI SAN",
    {
      subject: "/CN=agent",
      subjectAltName: "URI:https://agent.example.org/,URI:spiffe://example.org/admin",
    },
    'Certificate "CN=agent" is ambiguous: it has 2 URI SANs ("https://agent.example.org/", "spiffe://example.org/admin") ' +
    "and one is a SPIFFE ID; an X.509-SVID must have exactly one URI SAN",
  ],
  [
    "an upper-case SPIFFE scheme beside a SPIFFE ID",
    {
      subject: "/CN=agent",
      subjectAltName: "URI:spiffe://example.org/agent,URI:SPIFFE://example.org/admin",
    },
    'Certificate "CN=agent" is ambiguous: it has 2 URI SANs ("spiffe://example.org/agent", "SPIFFE://example.org/admin") ' +
    "and one is a SPIFFE ID; an X.509-SVID must have exactly one URI SAN",
  ],
];

const made = new Map<string, string>();
for (const [what, spec] of AMBIGUOUS) {
  const name = what.replace(/[^a-z0-9]+/gi, "-");
  made.set(what, (await opensslClientCert(dir, { name, ca: caFiles, ...spec })).cert);
}

function assertAmbiguous(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isMtlsError(e, "ambiguous_identity"), `expected ambiguous_identity, got ${e}`);
    assert.equal((e as Error).message, message);
    return true;
  });
}

for (const [what, , message] of AMBIGUOUS) {
  Deno.test(`peerIdentity() refuses a certificate with ${what} (ambiguous_identity)`, () => {
    assertAmbiguous(() => peerIdentity(readCertificate(made.get(what)!)), message);
  });

  Deno.test(`compilePolicy() strict, demo and custom refuse a certificate with ${what}`, () => {
    const leaf = readCertificate(made.get(what)!);
    let hookCalls = 0;
    for (
      const option of [
        "strict",
        "demo",
        { verify: () => void hookCalls++ },
        { base: "demo" as const, verify: () => void hookCalls++ },
      ] as const
    ) {
      // Trusted (signed by the CA) and untrusted (no CA configured): both refused.
      for (const anchors of [[ca.certificatePem], []]) {
        const policy = compilePolicy(option, { ca: anchors });
        for (
          const v of [policy.checkCertificate(leaf, []), policy.checkPresented(leaf, () => [])]
        ) {
          assert.ok("reason" in v, `${policy.name} admitted it`);
          assert.equal(v.reason, "ambiguous_identity");
          assert.equal(v.message, message);
          assert.equal(v.identity, undefined, "no identity is made up for it");
        }
      }
    }
    assert.equal(hookCalls, 0);
  });
}

Deno.test("commonNamesOf() lists every CN of a subject; a CN in a multi-valued RDN shares its RDN", () => {
  const f = readCertificate(made.get("two CNs, admin last")!);
  assert.deepStrictEqual(commonNamesOf(f.subject), ["agent", "admin"]);
  const mv = readCertificate(made.get("a CN in a multi-valued RDN")!);
  assert.deepStrictEqual(commonNamesOf(mv.subject), ["a"]);
  assert.deepStrictEqual(mv.subject.rdns[0].map((a) => a.name), ["CN", "O"]);
});

Deno.test("peerIdentity() admits what is not ambiguous: several non-SPIFFE URIs, a CN beside O and OU, a multi-valued RDN without a CN", async () => {
  const cases: [OpensslCertSpec, string][] = [
    [
      {
        name: "two-https",
        subject: "/CN=agent",
        subjectAltName: "URI:https://a.example.org/,URI:https://b.example.org/",
      },
      "cn:agent",
    ],
    [{ name: "o-ou", subject: "/O=Example/OU=Agents/CN=agent" }, "cn:agent"],
    [
      { name: "mv-no-cn", subject: "/O=Example+OU=Agents/CN=agent", multiValueRdn: true },
      "cn:agent",
    ],
    [
      {
        name: "one-spiffe",
        subject: "/CN=agent",
        subjectAltName: "URI:spiffe://example.org/agent,DNS:agent.example.org",
      },
      "spiffe://example.org/agent",
    ],
  ];
  for (const [spec, label] of cases) {
    const { cert } = await opensslClientCert(dir, { ...spec, ca: caFiles });
    const id = peerIdentity(readCertificate(cert));
    assert.equal(identityLabel(id), label, spec.name);
    const v = compilePolicy("strict", { ca: [ca.certificatePem] }).checkCertificate(
      readCertificate(cert),
      [],
    );
    assert.ok(!("reason" in v), `${spec.name}: ${"reason" in v ? v.message : ""}`);
  }
});

Deno.test("compileAuthorization(): a rule keyed on cn:admin is never granted to a certificate naming both agent and admin", () => {
  const authorize = compileAuthorization({
    rules: [{ identity: "cn:admin", tools: ["*"] }, { identity: "cn:agent", tools: ["whoami"] }],
  });
  for (const what of ["two CNs, admin last", "two CNs, admin first"]) {
    const leaf = readCertificate(made.get(what)!);
    // The only way from a certificate to a rule is an identity, and there is none.
    let granted = false;
    try {
      granted = authorize(peerIdentity(leaf))("admin_tool");
    } catch (e) {
      assert.ok(isMtlsError(e, "ambiguous_identity"), String(e));
    }
    assert.equal(granted, false, what);
  }
});

Deno.test("issueCertificate() never puts two CNs in a subject: a name that looks like a DN stays one literal CN", async () => {
  for (const name of ["agent,CN=admin", "agent+CN=admin", "agent/CN=admin", "agent, CN=admin"]) {
    const leaf = await issueCertificate(ca, "client", { commonName: name });
    const x = readCertificate(leaf.certificatePem);
    assert.deepStrictEqual(commonNamesOf(x.subject), [name]);
    assert.equal(identityLabel(peerIdentity(x)), `cn:${name}`);
  }
});

Deno.test("peerIdentity() refuses a single CN with a line break, which prints exactly like two CNs", async () => {
  const name = "agent\nCN=admin";
  // openssl takes the line break literally; our PKI refuses to issue such a name (below).
  const made1 = await opensslClientCert(dir, { name: "newline-cn", subject: `/CN=${name}` });
  const x = readCertificate(made1.cert);
  assert.deepStrictEqual(commonNamesOf(x.subject), [name]);
  // node:crypto prints it as it prints the two CNs "agent" and "admin"; the model escapes it.
  assert.equal(
    new X509Certificate(made1.cert).subject,
    new X509Certificate(made.get("two CNs, admin last")!).subject,
  );
  assert.equal(x.subject.text, "CN=agent\\0aCN=admin");
  assertAmbiguous(
    () => peerIdentity(x),
    'Certificate "CN=agent\\0aCN=admin" is ambiguous: its common name "agent\\nCN=admin" ' +
      "contains a control character or line break",
  );
  const selfSigned = compilePolicy("demo", { ca: [] }).checkCertificate(x, []);
  assert.ok("reason" in selfSigned && selfSigned.reason === "ambiguous_identity");
  await assert.rejects(
    issueCertificate(ca, "client", { commonName: name }),
    (e: Error) =>
      isMtlsError(e, "invalid_argument") &&
      e.message === 'Invalid common name "agent\\nCN=admin": control characters are not allowed',
  );
});

Deno.test("issueCertificate() and parseSubjectAltNames() refuse a SPIFFE ID beside another URI SAN", async () => {
  const why = "a SPIFFE ID must be the only URI SAN of a certificate (SPIFFE X.509-SVID §2)";
  const cases: [string, string][] = [
    [
      "uri:spiffe://example.org/agent,uri:spiffe://example.org/admin",
      "uri:spiffe://example.org/agent, uri:spiffe://example.org/admin",
    ],
    [
      "dns:agent.example.org,uri:spiffe://example.org/agent,uri:https://example.org/",
      "uri:spiffe://example.org/agent, uri:https://example.org/",
    ],
    [
      "uri:https://example.org/, uri:SPIFFE://example.org/admin",
      "uri:https://example.org/, uri:SPIFFE://example.org/admin",
    ],
  ];
  for (const [spec, uris] of cases) {
    const message = `Invalid SANs "${uris}": ${why}`;
    assert.throws(() => parseSubjectAltNames(spec), (e: unknown) => {
      assert.ok(isMtlsError(e, "invalid_argument"), String(e));
      assert.equal((e as Error).message, message);
      return true;
    });
    await assert.rejects(issueCertificate(ca, "client", { subjectAltNames: spec }), (e) => {
      assert.ok(isMtlsError(e, "invalid_argument"), String(e));
      assert.equal((e as Error).message, message);
      return true;
    });
  }
  // Several non-SPIFFE URIs remain fine.
  assert.equal(parseSubjectAltNames("uri:https://a.example/,uri:https://b.example/").length, 2);
});

Deno.test({ name: "identity test cleanup", fn: () => Deno.remove(dir, { recursive: true }) });

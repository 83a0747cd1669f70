/**
 * RFC 5280 chain constraints on client certificates (security review):
 * pathLenConstraint (intermediates and the trust anchor), unknown critical
 * extensions and policy constraints (fail closed), name constraints (one
 * case; every form is in tests/policy/name_constraints_test.ts), and
 * intermediate EKU. Every refused chain is also refused by `openssl verify -purpose
 * sslclient`, so we match OpenSSL; certificates our generator cannot make
 * (a CA under a pathLen 0 CA, nameConstraints, unknown critical extensions)
 * are made with `openssl x509 -req -extfile`.
 */
import assert from "node:assert/strict";
import {
  type CertificateBundle,
  createIntermediateCa,
  createRootCa,
  createSelfSignedCertificate,
  issueCertificate,
} from "../../src/pki/mod.ts";
import { compilePolicy } from "../../src/policy/policy.ts";
import { KEY_USAGE, readCertificate } from "../../src/cert/mod.ts";
import { checkCriticalExtensions } from "../../src/policy/verify_chain.ts";
import {
  type Credential,
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  rawPost,
  startServer,
} from "./_fixtures.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const fx: Fixtures = await makeFixtures();
const dir = await moduleTempDir("mcp-mtls-chain-constraints-");

async function openssl(args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command("openssl", { args, cwd: dir, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

async function opensslOk(args: string[]): Promise<string> {
  const r = await openssl(args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.out}`);
  return r.out;
}

/** A certificate and key as PEM. */
interface Pem {
  cert: string;
  key: string;
}

let serial = 0;

/** Signs a fresh P-256 key for `cn` with `issuer`, using the extension lines `ext`. */
async function sign(issuer: Pem, cn: string, ext: string[]): Promise<Pem> {
  const n = ++serial;
  await Deno.writeTextFile(`${dir}/is${n}.crt`, issuer.cert);
  await Deno.writeTextFile(`${dir}/is${n}.key`, issuer.key);
  await Deno.writeTextFile(`${dir}/ext${n}.cnf`, `[v3]\n${ext.join("\n")}\n`);
  await opensslOk([
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    `c${n}.key`,
  ]);
  await opensslOk(["req", "-new", "-key", `c${n}.key`, "-subj", `/CN=${cn}`, "-out", `c${n}.csr`]);
  await opensslOk([
    "x509",
    "-req",
    "-in",
    `c${n}.csr`,
    "-CA",
    `is${n}.crt`,
    "-CAkey",
    `is${n}.key`,
    "-set_serial",
    String(1000 + n),
    "-days",
    "30",
    "-sha256",
    "-extfile",
    `ext${n}.cnf`,
    "-extensions",
    "v3",
    "-out",
    `c${n}.crt`,
  ]);
  return {
    cert: await Deno.readTextFile(`${dir}/c${n}.crt`),
    key: await Deno.readTextFile(`${dir}/c${n}.key`),
  };
}

const pem = (b: CertificateBundle): Pem => ({ cert: b.certificatePem, key: b.privateKeyPem! });
const x509 = (p: string) => readCertificate(p);

const CA = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"];
const CLIENT = [
  "basicConstraints=critical,CA:FALSE",
  "keyUsage=critical,digitalSignature",
  "extendedKeyUsage=clientAuth",
];

/** `openssl verify -purpose sslclient -CAfile root -untrusted ints leaf`: code and output. */
async function opensslVerify(root: string, ints: string[], leaf: string, extra: string[] = []) {
  const n = ++serial;
  await Deno.writeTextFile(`${dir}/v${n}-root.crt`, root);
  await Deno.writeTextFile(`${dir}/v${n}-leaf.crt`, leaf);
  const untrusted: string[] = [];
  if (ints.length) {
    await Deno.writeTextFile(`${dir}/v${n}-ints.crt`, ints.join(""));
    untrusted.push("-untrusted", `v${n}-ints.crt`);
  }
  return await openssl([
    "verify",
    "-purpose",
    "sslclient",
    ...extra,
    "-CAfile",
    `v${n}-root.crt`,
    ...untrusted,
    `v${n}-leaf.crt`,
  ]);
}

/** Strict and demo verdicts for leaf + intermediates against `root`, plus openssl's. */
async function judge(root: string, ints: string[], leaf: string, extra: string[] = []) {
  const strict = compilePolicy("strict", { ca: [root] }).checkCertificate(
    x509(leaf),
    ints.map(x509),
  );
  const demo = compilePolicy("demo", { ca: [root] }).checkCertificate(x509(leaf), ints.map(x509));
  return { strict, demo, openssl: await opensslVerify(root, ints, leaf, extra) };
}

type Verdict = Awaited<ReturnType<typeof judge>>["strict"];

function assertRefused(v: Verdict, reason: string, message: RegExp): void {
  assert.ok("reason" in v, `expected refusal, got ${JSON.stringify(v)}`);
  assert.equal(v.reason, reason, v.message);
  assert.match(v.message, message);
}

function assertTrusted(v: Verdict): void {
  assert.ok(!("reason" in v), `expected acceptance, got ${"reason" in v ? v.message : ""}`);
  assert.equal(v.trusted, true);
}

/** Both policies refuse the same way, and openssl refuses with `opensslError`. */
async function assertAllRefuse(
  root: string,
  ints: string[],
  leaf: string,
  reason: string,
  message: RegExp,
  opensslError: RegExp,
  opensslArgs: string[] = [],
) {
  const j = await judge(root, ints, leaf, opensslArgs);
  assertRefused(j.strict, reason, message);
  assertRefused(j.demo, reason, message);
  assert.notEqual(j.openssl.code, 0, j.openssl.out);
  assert.match(j.openssl.out, opensslError);
}

async function assertAllAccept(root: string, ints: string[], leaf: string) {
  const j = await judge(root, ints, leaf);
  assertTrusted(j.strict);
  assertTrusted(j.demo);
  assert.equal(j.openssl.code, 0, j.openssl.out);
}

const root = await createRootCa({ commonName: "Constraints Root", exportable: true });
// createIntermediateCa's default pathLength 0: leaves only.
const int0 = await createIntermediateCa(root, { commonName: "Int0 pl0", exportable: true });

Deno.test("readCertificate reads pathLen, critical extensions and name constraints", async () => {
  const f = x509(int0.certificatePem);
  assert.equal(f.basicConstraints?.ca, true);
  assert.equal(f.basicConstraints?.pathLength, 0);
  assert.equal(f.keyUsage?.has(KEY_USAGE.keyCertSign), true);
  assert.deepEqual(f.criticalExtensions, ["2.5.29.19", "2.5.29.15"]);
  assert.equal(f.nameConstraints, undefined);
  const r = x509(root.certificatePem);
  assert.equal(r.basicConstraints?.pathLength, undefined);
  const nc = await sign(pem(root), "NC", [
    ...CA,
    "nameConstraints=permitted;DNS:example.org",
  ]);
  const n = x509(nc.cert);
  assert.equal(n.nameConstraints?.oid, "2.5.29.30");
  assert.deepEqual(n.criticalExtensions, ["2.5.29.19", "2.5.29.15"]);
});

Deno.test("certificates we generate carry only processed critical extensions", async () => {
  const mid = await createIntermediateCa(root, { commonName: "Gen Mid", pathLength: 1 });
  const certs = [
    root,
    mid,
    await issueCertificate(root, "client", {
      commonName: "gen",
      subjectAltNames: "URI:spiffe://example.org/gen,DNS:gen.local",
      crlDistributionPoints: ["http://crl.example/x.crl"],
      ocspUrl: "http://ocsp.example",
    }),
    await issueCertificate(mid, "server", { commonName: "localhost" }),
    await createSelfSignedCertificate("client", { commonName: "self" }),
  ];
  for (const c of certs) assert.equal(checkCriticalExtensions(x509(c.certificatePem)), undefined);
});

Deno.test("pathLen 0 intermediate cannot have a CA below it (intermediate)", async () => {
  const int1 = await sign(pem(int0), "Int1", CA);
  const leaf = await sign(int1, "leafP", CLIENT);
  await assertAllRefuse(
    root.certificatePem,
    [int1.cert, int0.certificatePem],
    leaf.cert,
    "unknown_ca",
    /intermediate CA "CN=Int0 pl0" has pathLen 0 but 1 intermediate/,
    /path length constraint exceeded/,
  );
  // Control: pathLength 1 admits exactly one CA below it (all made by src/pki).
  const a = await createIntermediateCa(root, { commonName: "A pl1", pathLength: 1 });
  const b = await createIntermediateCa(a, { commonName: "B pl0" });
  const ok = await issueCertificate(b, "client", { commonName: "ok" });
  await assertAllAccept(
    root.certificatePem,
    [b.certificatePem, a.certificatePem],
    ok.certificatePem,
  );
});

Deno.test("pathLen of the trust anchor is enforced too", async () => {
  const anchor = await createRootCa({ commonName: "Root pl0", pathLength: 0, exportable: true });
  const mid = await sign(pem(anchor), "Mid under pl0 root", CA);
  const leaf = await sign(mid, "leafA", CLIENT);
  await assertAllRefuse(
    anchor.certificatePem,
    [mid.cert],
    leaf.cert,
    "unknown_ca",
    /trusted CA "CN=Root pl0" has pathLen 0 but 1 intermediate/,
    /path length constraint exceeded/,
  );
  // A leaf straight under it is fine.
  const direct = await issueCertificate(anchor, "client", { commonName: "direct" });
  await assertAllAccept(anchor.certificatePem, [], direct.certificatePem);
  // Control: pathLength 1 root.
  const r1 = await createRootCa({ commonName: "Root pl1", pathLength: 1 });
  const m1 = await createIntermediateCa(r1);
  const l1 = await issueCertificate(m1, "client", { commonName: "l1" });
  await assertAllAccept(r1.certificatePem, [m1.certificatePem], l1.certificatePem);
});

Deno.test("name constraints, critical or not, refuse a leaf outside them (tests/policy/name_constraints_test.ts has every form)", async () => {
  for (const critical of ["critical,", ""]) {
    const label = critical ? "critical" : "noncritical";
    const nc = await sign(pem(root), `IntNC ${label}`, [
      ...CA,
      `nameConstraints=${critical}permitted;URI:teama.example,permitted;DNS:teama.example`,
    ]);
    const leaf = await sign(nc, "leafNC", [
      ...CLIENT,
      "subjectAltName=URI:spiffe://teamb.example/admin",
    ]);
    await assertAllRefuse(
      root.certificatePem,
      [nc.cert],
      leaf.cert,
      "unknown_ca",
      new RegExp(
        `^Certificate "CN=leafNC" has URI "spiffe://teamb\\.example/admin", which intermediate CA "CN=IntNC ${label}" does not permit \\(permitted: URI:teama\\.example\\)$`,
      ),
      /permitted subtree violation/,
    );
  }
});

Deno.test("unknown critical extensions refuse the chain, on the leaf or an intermediate", async () => {
  const crit = "1.2.3.4.5.6.7=critical,ASN1:UTF8String:must-understand";
  const leaf = await sign(pem(root), "leafCrit", [...CLIENT, crit]);
  await assertAllRefuse(
    root.certificatePem,
    [],
    leaf.cert,
    "unknown_ca",
    /"CN=leafCrit" has critical extension 1\.2\.3\.4\.5\.6\.7/,
    /unhandled critical extension/,
  );
  const mid = await sign(pem(root), "IntCrit", [...CA, crit]);
  const under = await sign(mid, "leafUnder", CLIENT);
  await assertAllRefuse(
    root.certificatePem,
    [mid.cert],
    under.cert,
    "unknown_ca",
    /"CN=IntCrit" has critical extension 1\.2\.3\.4\.5\.6\.7/,
    /unhandled critical extension/,
  );
  const pc = await sign(pem(root), "IntPC", [
    ...CA,
    "policyConstraints=critical,requireExplicitPolicy:0",
  ]);
  const pcLeaf = await sign(pc, "leafPC", CLIENT);
  await assertAllRefuse(
    root.certificatePem,
    [pc.cert],
    pcLeaf.cert,
    "unknown_ca",
    /"CN=IntPC" has critical extension policyConstraints \(2\.5\.29\.36\)/,
    // OpenSSL honours policyConstraints only when asked to check policies.
    /verification failed/,
    ["-policy_check"],
  );
});

Deno.test("a critical certificatePolicies extension is accepted (no policy is required)", async () => {
  const mid = await sign(pem(root), "IntPol", [...CA, "certificatePolicies=critical,1.2.3.4"]);
  const leaf = await sign(mid, "leafPol", [...CLIENT, "certificatePolicies=critical,1.2.3.4"]);
  await assertAllAccept(root.certificatePem, [mid.cert], leaf.cert);
});

Deno.test("an intermediate whose EKU lacks clientAuth cannot vouch for a client", async () => {
  const mid = await sign(pem(root), "IntEKU", [...CA, "extendedKeyUsage=serverAuth"]);
  const leaf = await sign(mid, "leafX", CLIENT);
  await assertAllRefuse(
    root.certificatePem,
    [mid.cert],
    leaf.cert,
    "bad_key_usage",
    /Intermediate CA "CN=IntEKU" extended key usage does not allow clientAuth \(has serverAuth/,
    /unsuitable certificate purpose/,
  );
  for (const eku of ["clientAuth", "serverAuth,clientAuth"]) {
    const ok = await sign(pem(root), `IntEKU ${eku}`, [...CA, `extendedKeyUsage=${eku}`]);
    const okLeaf = await sign(ok, "leafOk", CLIENT);
    await assertAllAccept(root.certificatePem, [ok.cert], okLeaf.cert);
  }
  // anyExtendedKeyUsage on an intermediate: we accept it (RFC 5280 §4.2.1.12, and
  // the same rule as for the leaf); OpenSSL 3 does not count it for sslclient.
  const any = await sign(pem(root), "IntEKU any", [...CA, "extendedKeyUsage=anyExtendedKeyUsage"]);
  const anyLeaf = await sign(any, "leafAny", CLIENT);
  const j = await judge(root.certificatePem, [any.cert], anyLeaf.cert);
  assertTrusted(j.strict);
  assert.match(j.openssl.out, /unsuitable certificate purpose/);
});

Deno.test("demo policy: untrusted sound leaves still pass, untrusted leaves with unknown critical extensions do not", async () => {
  const demo = compilePolicy("demo", { ca: [root.certificatePem] });
  const self = await createSelfSignedCertificate("client", {
    commonName: "self",
    exportable: true,
  });
  const ok = demo.checkCertificate(x509(self.certificatePem), []);
  assert.ok(!("reason" in ok) && ok.trusted === false);
  const crit = await sign(pem(self), "selfCrit", [
    ...CLIENT,
    "1.2.3.4.5.6.7=critical,ASN1:UTF8String:x",
  ]);
  // Signed by "self" (unknown to the server): untrusted, and refused for the extension.
  const v = demo.checkCertificate(x509(crit.cert), []);
  assertRefused(v, "unknown_ca", /critical extension 1\.2\.3\.4\.5\.6\.7/);
});

Deno.test("over the socket: refused chains are logged with reason and detail", async () => {
  const int1 = await sign(pem(int0), "Int1 sock", CA);
  const leafP = await sign(int1, "leafP sock", CLIENT);
  const eku = await sign(pem(root), "IntEKU sock", [...CA, "extendedKeyUsage=serverAuth"]);
  const leafX = await sign(eku, "leafX sock", CLIENT);
  const cases: [Pem, string[], string, RegExp][] = [
    [leafP, [int1.cert, int0.certificatePem], "unknown_ca", /"CN=Int0 pl0" has pathLen 0/],
    [leafX, [eku.cert], "bad_key_usage", /"CN=IntEKU sock" extended key usage/],
  ];
  for (const [leaf, ints, reason, detail] of cases) {
    const { server, log } = await startServer(fx, { tls: { ca: root.certificatePem } });
    try {
      const cred = { cert: leaf.cert + ints.join(""), key: leaf.key } as Credential;
      const res = await rawPost(fx, server.url, cred, INITIALIZE).catch((e) => e);
      assert.ok(res instanceof Error || res.status >= 400, `admitted: ${JSON.stringify(res)}`);
      const rec = await log.waitForReason(reason);
      assert.match(String(rec.fields.detail), detail);
    } finally {
      await server.close();
    }
  }
});

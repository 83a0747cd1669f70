/**
 * Weak signatures and weak keys in client chains (issue 10, item 6): SHA-1
 * and MD5 (and MD2/MD4) signatures anywhere in the chain are refused as
 * `weak_signature`, except the trust anchor's own self-signature; RSA keys
 * under 2048 bits and DSA keys anywhere in the chain, the trust anchor
 * included, as `weak_key`.
 *
 * Certificates are made with the real openssl (`x509 -req -sha1/-md5`,
 * `-sigopt rsa_padding_mode:pss`). Each verdict is compared with
 * `openssl verify -purpose sslclient -auth_level 2` (security level 2: at
 * least 112-bit security, Debian's default for TLS); plain `openssl verify`
 * sets no security level and accepts every one of these chains.
 *
 * Over real sockets the client is curl with an OpenSSL config at security
 * level 0, since curl at this machine's default level refuses to even load
 * such a certificate. An RSA-1024 client leaf never reaches our verifier
 * (rustls refuses its handshake signature: "decrypt error"), so that case is
 * checked on `verifyClientChain` directly.
 */
import assert from "node:assert/strict";
import { readCertificate } from "../../src/cert/mod.ts";
import { compilePolicy } from "../../src/policy/policy.ts";
import { verifyClientChain } from "../../src/policy/verify_chain.ts";
import { refusals, run, startServer } from "./_fixtures.ts";
import { moduleTempDir } from "../_temp_dir.ts";
import { type Fixtures, INITIALIZE, makeFixtures, parseMcpBody } from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();
const dir = await moduleTempDir("mcp-mtls-chain-strength-");

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

let serial = 0;

/** A fresh key file: RSA of `bits`, P-256, or DSA-2048. */
async function newKey(kind: "rsa2048" | "rsa1024" | "ec" | "dsa"): Promise<string> {
  const file = `k${++serial}.key`;
  if (kind === "dsa") {
    await opensslOk([
      "genpkey",
      "-genparam",
      "-algorithm",
      "DSA",
      "-pkeyopt",
      "dsa_paramgen_bits:2048",
      "-out",
      `${file}.param`,
    ]);
    await opensslOk(["genpkey", "-paramfile", `${file}.param`, "-out", file]);
  } else if (kind === "ec") {
    await opensslOk([
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      file,
    ]);
  } else {
    const bits = kind === "rsa1024" ? "1024" : "2048";
    await opensslOk([
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      `rsa_keygen_bits:${bits}`,
      "-out",
      file,
    ]);
  }
  return file;
}

/** A certificate (PEM) and the file of its private key. */
interface Made {
  cert: string;
  key: string;
  file: string;
}

const CA = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"];
const CLIENT = [
  "basicConstraints=critical,CA:FALSE",
  "keyUsage=critical,digitalSignature",
  "extendedKeyUsage=clientAuth",
];

/** A self-signed CA (or, with `ext`, a self-signed client) with key `key`, signed with `md`. */
async function selfSigned(cn: string, key: string, md = "sha256", ext = CA): Promise<Made> {
  const n = ++serial;
  await opensslOk([
    "req",
    "-x509",
    "-new",
    "-key",
    key,
    "-subj",
    `/CN=${cn}`,
    "-days",
    "30",
    `-${md}`,
    ...ext.flatMap((e) => ["-addext", e]),
    "-out",
    `r${n}.crt`,
  ]);
  const cert = await Deno.readTextFile(`${dir}/r${n}.crt`);
  return { cert, key, file: `${dir}/r${n}.crt` };
}

/** `issuer` signs a certificate for `cn` on `key` with digest `md` and the extension lines `ext`. */
async function issue(
  issuer: Made,
  cn: string,
  key: string,
  { md = "sha256", ext = CLIENT, sigopt = [] as string[] } = {},
): Promise<Made> {
  const n = ++serial;
  await Deno.writeTextFile(`${dir}/is${n}.crt`, issuer.cert);
  await Deno.writeTextFile(`${dir}/ext${n}.cnf`, `[v3]\n${ext.join("\n")}\n`);
  await opensslOk(["req", "-new", "-key", key, "-subj", `/CN=${cn}`, "-out", `c${n}.csr`]);
  await opensslOk([
    "x509",
    "-req",
    "-in",
    `c${n}.csr`,
    "-CA",
    `is${n}.crt`,
    "-CAkey",
    issuer.key,
    "-set_serial",
    String(1000 + n),
    "-days",
    "30",
    `-${md}`,
    ...sigopt.flatMap((o) => ["-sigopt", o]),
    "-extfile",
    `ext${n}.cnf`,
    "-extensions",
    "v3",
    "-out",
    `c${n}.crt`,
  ]);
  const cert = await Deno.readTextFile(`${dir}/c${n}.crt`);
  return { cert, key, file: `${dir}/c${n}.crt` };
}

const x509 = (p: string) => readCertificate(p);

/** `openssl verify -purpose sslclient [-auth_level L]`: exit code and output. */
async function opensslVerify(root: string, ints: string[], leaf: string, level?: number) {
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
    ...(level === undefined ? [] : ["-auth_level", String(level)]),
    "-CAfile",
    `v${n}-root.crt`,
    ...untrusted,
    `v${n}-leaf.crt`,
  ]);
}

type Verdict = ReturnType<ReturnType<typeof compilePolicy>["checkCertificate"]>;

function assertRefused(v: Verdict, reason: string, message: RegExp): void {
  assert.ok("reason" in v, `expected refusal, got ${JSON.stringify(v)}`);
  assert.equal(v.reason, reason, v.message);
  assert.match(v.message, message);
}

/**
 * Strict, demo and `checkPresented` (the server's path) refuse with `reason`
 * and `message`; `openssl verify -auth_level 2` refuses with `opensslError`,
 * while plain `openssl verify` (no security level) accepts.
 */
async function assertWeak(
  root: string,
  ints: string[],
  leaf: string,
  reason: "weak_signature" | "weak_key",
  message: RegExp,
  opensslError: RegExp,
) {
  for (const name of ["strict", "demo"] as const) {
    const policy = compilePolicy(name, { ca: [root] });
    assertRefused(policy.checkCertificate(x509(leaf), ints.map(x509)), reason, message);
    assertRefused(policy.checkPresented(x509(leaf), () => ints.map(x509)), reason, message);
  }
  const level2 = await opensslVerify(root, ints, leaf, 2);
  assert.notEqual(level2.code, 0, level2.out);
  assert.match(level2.out, opensslError);
  const plain = await opensslVerify(root, ints, leaf);
  assert.equal(plain.code, 0, `plain openssl verify sets no security level: ${plain.out}`);
}

async function assertAccepted(root: string, ints: string[], leaf: string) {
  const v = compilePolicy("strict", { ca: [root] }).checkCertificate(x509(leaf), ints.map(x509));
  assert.ok(!("reason" in v), `expected acceptance, got ${"reason" in v ? v.message : ""}`);
  assert.equal(v.trusted, true);
  const level2 = await opensslVerify(root, ints, leaf, 2);
  assert.equal(level2.code, 0, level2.out);
}

const rsaKey = await newKey("rsa2048");
const rsa1024Key = await newKey("rsa1024");
const ecKey = await newKey("ec");
const root = await selfSigned("Strength Root", await newKey("rsa2048"));
const good = await issue(root, "good leaf", rsaKey);

Deno.test("a SHA-1 or MD5 signed leaf of a trusted CA is refused as weak_signature, not admitted or unknown_ca", async () => {
  for (const [md, alg] of [["sha1", "SHA-1"], ["md5", "MD5"]]) {
    const leaf = await issue(root, `${md} leaf`, rsaKey, { md });
    await assertWeak(
      root.cert,
      [],
      leaf.cert,
      "weak_signature",
      new RegExp(
        `^Certificate "CN=${md} leaf" is signed with ${alg} \\(${md}WithRSAEncryption, [0-9.]+\\) by "CN=Strength Root"; SHA-1 and MD5 signatures are not accepted$`,
      ),
      /CA signature digest algorithm too weak/,
    );
  }
  await assertAccepted(root.cert, [], good.cert);
  for (const md of ["sha384", "sha512"]) {
    await assertAccepted(root.cert, [], (await issue(root, `${md} leaf`, rsaKey, { md })).cert);
  }
});

Deno.test("ECDSA with SHA-1 and RSASSA-PSS with SHA-1 are refused as weak_signature", async () => {
  const ecRoot = await selfSigned("EC Root", ecKey);
  const ecLeaf = await issue(ecRoot, "ecdsa sha1 leaf", await newKey("ec"), { md: "sha1" });
  await assertWeak(
    ecRoot.cert,
    [],
    ecLeaf.cert,
    "weak_signature",
    /"CN=ecdsa sha1 leaf" is signed with SHA-1 \(ecdsa-with-SHA1, 1\.2\.840\.10045\.4\.1\)/,
    /CA signature digest algorithm too weak/,
  );
  await assertAccepted(ecRoot.cert, [], (await issue(ecRoot, "ecdsa ok", ecKey)).cert);
  const pss = await issue(root, "pss sha1 leaf", rsaKey, {
    md: "sha1",
    sigopt: ["rsa_padding_mode:pss"],
  });
  await assertWeak(
    root.cert,
    [],
    pss.cert,
    "weak_signature",
    /"CN=pss sha1 leaf" is signed with SHA-1 \(RSASSA-PSS, 1\.2\.840\.113549\.1\.1\.10\)/,
    /CA signature digest algorithm too weak/,
  );
});

Deno.test("a SHA-1 signed intermediate is refused as weak_signature, naming the intermediate", async () => {
  const mid = await issue(root, "SHA1 Mid", await newKey("rsa2048"), { md: "sha1", ext: CA });
  const leaf = await issue(mid, "under sha1 mid", rsaKey);
  await assertWeak(
    root.cert,
    [mid.cert],
    leaf.cert,
    "weak_signature",
    /^Intermediate CA "CN=SHA1 Mid" is signed with SHA-1 \(sha1WithRSAEncryption, 1\.2\.840\.113549\.1\.1\.5\) by "CN=Strength Root"/,
    /CA signature digest algorithm too weak/,
  );
});

Deno.test("the trust anchor's own SHA-1 self-signature is exempt", async () => {
  const sha1Root = await selfSigned("SHA1 Self-signed Root", await newKey("rsa2048"), "sha1");
  await assertAccepted(sha1Root.cert, [], (await issue(sha1Root, "under sha1 root", rsaKey)).cert);
});

Deno.test("verifyClientChain() refuses an RSA-1024 leaf as weak_key (rustls refuses it before us on a socket)", async () => {
  const leaf = await issue(root, "rsa1024 leaf", rsa1024Key);
  const v = verifyClientChain(x509(leaf.cert), [], {
    anchors: [x509(root.cert)],
    maxChainDepth: 3,
    now: new Date(),
  });
  assertRefused(
    v as Verdict,
    "weak_key",
    /^Certificate "CN=rsa1024 leaf" has a 1024-bit RSA key; at least 2048 bits are required$/,
  );
  await assertWeak(
    root.cert,
    [],
    leaf.cert,
    "weak_key",
    /"CN=rsa1024 leaf" has a 1024-bit RSA key/,
    /EE certificate key too weak/,
  );
});

Deno.test("an RSA-1024 intermediate is refused as weak_key", async () => {
  const mid = await issue(root, "Mid 1024", rsa1024Key, { ext: CA });
  const leaf = await issue(mid, "under mid 1024", rsaKey);
  await assertWeak(
    root.cert,
    [mid.cert],
    leaf.cert,
    "weak_key",
    /^Intermediate CA "CN=Mid 1024" has a 1024-bit RSA key; at least 2048 bits are required$/,
    /CA certificate key too weak/,
  );
});

Deno.test("an RSA-1024 trust anchor is refused as weak_key (as OpenSSL at level 2 does)", async () => {
  const weakRoot = await selfSigned("Root 1024", rsa1024Key);
  const leaf = await issue(weakRoot, "under root 1024", rsaKey);
  await assertWeak(
    weakRoot.cert,
    [],
    leaf.cert,
    "weak_key",
    /^Trusted CA "CN=Root 1024" has a 1024-bit RSA key; at least 2048 bits are required$/,
    /CA certificate key too weak/,
  );
});

Deno.test("a rollover from an RSA-1024 anchor to an RSA-2048 one of the same name: only the old one's leaves are refused", async () => {
  const oldRoot = await selfSigned("Rollover Root", rsa1024Key);
  const newRoot = await selfSigned("Rollover Root", await newKey("rsa2048"));
  // No authorityKeyIdentifier: both anchors match the leaves by name alone.
  const noAki = [...CLIENT, "authorityKeyIdentifier=none"];
  const oldLeaf = await issue(oldRoot, "old leaf", rsaKey, { ext: noAki });
  const newLeaf = await issue(newRoot, "new leaf", rsaKey, { ext: noAki });
  const policy = compilePolicy("strict", { ca: [oldRoot.cert + newRoot.cert] });
  const ok = policy.checkCertificate(x509(newLeaf.cert), []);
  assert.ok(!("reason" in ok), "reason" in ok ? ok.message : "");
  assert.equal(ok.chain[1].fingerprint, x509(newRoot.cert).fingerprint);
  assertRefused(
    policy.checkCertificate(x509(oldLeaf.cert), []),
    "weak_key",
    /Trusted CA "CN=Rollover Root" has a 1024-bit RSA key/,
  );
});

Deno.test("DSA keys are refused as weak_key, as an intermediate or a trust anchor (OpenSSL accepts DSA-2048)", async () => {
  const dsaKey = await newKey("dsa");
  const mid = await issue(root, "DSA Mid", dsaKey, { ext: CA });
  const leaf = await issue(mid, "under dsa mid", rsaKey);
  const dsaRoot = await selfSigned("DSA Root", dsaKey);
  const underRoot = await issue(dsaRoot, "under dsa root", rsaKey);
  for (
    const [anchor, ints, leafPem, message] of [
      [root.cert, [mid.cert], leaf.cert, /^Intermediate CA "CN=DSA Mid" has a DSA key/],
      [dsaRoot.cert, [], underRoot.cert, /^Trusted CA "CN=DSA Root" has a DSA key/],
    ] as const
  ) {
    for (const name of ["strict", "demo"] as const) {
      const policy = compilePolicy(name, { ca: [anchor] });
      assertRefused(policy.checkCertificate(x509(leafPem), ints.map(x509)), "weak_key", message);
    }
    const level2 = await opensslVerify(anchor, [...ints], leafPem, 2);
    assert.equal(level2.code, 0, `OpenSSL accepts DSA-2048 at level 2: ${level2.out}`);
  }
});

Deno.test("a weak leaf of an unknown CA stays unknown_ca; demo refuses weak untrusted leaves", async () => {
  const other = await selfSigned("Unknown Root", await newKey("rsa2048"));
  const sha1 = await issue(other, "sha1 stranger", rsaKey, { md: "sha1" });
  assertRefused(
    compilePolicy("strict", { ca: [root.cert] }).checkCertificate(x509(sha1.cert), []),
    "unknown_ca",
    /issued by "CN=Unknown Root", which is not a trusted CA/,
  );
  // A weak intermediate that leads to no trusted CA: untrusted, not weak.
  const strangeMid = await issue(other, "Stranger Mid 1024", rsa1024Key, { ext: CA });
  const underStrange = await issue(strangeMid, "under stranger mid", rsaKey);
  assertRefused(
    compilePolicy("strict", { ca: [root.cert] }).checkCertificate(x509(underStrange.cert), [
      x509(strangeMid.cert),
    ]),
    "unknown_ca",
    /"CN=Stranger Mid 1024" was issued by "CN=Unknown Root", which is not a trusted CA/,
  );
  const demo = compilePolicy("demo", { ca: [root.cert] });
  const untrusted = demo.checkCertificate(x509(underStrange.cert), [x509(strangeMid.cert)]);
  assert.ok(!("reason" in untrusted) && untrusted.trusted === false, JSON.stringify(untrusted));
  assertRefused(
    demo.checkCertificate(x509(sha1.cert), []),
    "weak_signature",
    /"CN=sha1 stranger" is signed with SHA-1/,
  );
  const selfSha1 = await selfSigned("self sha1", rsaKey, "sha1", CLIENT);
  assertRefused(
    demo.checkCertificate(x509(selfSha1.cert), []),
    "weak_signature",
    /"CN=self sha1" is signed with SHA-1/,
  );
  const self1024 = await selfSigned("self 1024", rsa1024Key, "sha256", CLIENT);
  assertRefused(
    demo.checkCertificate(x509(self1024.cert), []),
    "weak_key",
    /"CN=self 1024" has a 1024-bit RSA key/,
  );
  const selfOk = await selfSigned("self ok", rsaKey, "sha256", CLIENT);
  const ok = demo.checkCertificate(x509(selfOk.cert), []);
  assert.ok(!("reason" in ok) && ok.trusted === false, JSON.stringify(ok));
});

/** curl at OpenSSL security level 0, so it agrees to present a weak certificate. */
async function curlWith(url: string, certFile: string, keyFile: string) {
  const conf = `${dir}/seclevel0.cnf`;
  await Deno.writeTextFile(
    conf,
    "openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = sys\n[sys]\nCipherString = DEFAULT:@SECLEVEL=0\n",
  );
  return await run("env", [
    `OPENSSL_CONF=${conf}`,
    "curl",
    "-sS",
    "--cacert",
    fx.caFile,
    "--cert",
    certFile,
    "--key",
    `${dir}/${keyFile}`,
    "-H",
    "content-type: application/json",
    "-H",
    "accept: application/json, text/event-stream",
    "-d",
    JSON.stringify(INITIALIZE),
    url,
  ]);
}

Deno.test("over the socket: weak chains are refused with the exact code, logged once at warn, and the next good client is served", async () => {
  const sha1Leaf = await issue(root, "sock sha1", rsaKey, { md: "sha1" });
  const md5Leaf = await issue(root, "sock md5", rsaKey, { md: "md5" });
  const mid1024 = await issue(root, "Sock Mid 1024", rsa1024Key, { ext: CA });
  const under1024 = await issue(mid1024, "sock under 1024", rsaKey);
  const midSha1 = await issue(root, "Sock SHA1 Mid", await newKey("rsa2048"), {
    md: "sha1",
    ext: CA,
  });
  const underSha1 = await issue(midSha1, "sock under sha1 mid", rsaKey);
  const chainFile = async (name: string, pems: string[]) => {
    const f = `${dir}/${name}-chain.crt`;
    await Deno.writeTextFile(f, pems.join(""));
    return f;
  };
  const cases: [string, string, RegExp][] = [
    [sha1Leaf.file, "weak_signature", /^Certificate "CN=sock sha1" is signed with SHA-1/],
    [md5Leaf.file, "weak_signature", /^Certificate "CN=sock md5" is signed with MD5/],
    [
      await chainFile("u1024", [under1024.cert, mid1024.cert]),
      "weak_key",
      /^Intermediate CA "CN=Sock Mid 1024" has a 1024-bit RSA key/,
    ],
    [
      await chainFile("usha1", [underSha1.cert, midSha1.cert]),
      "weak_signature",
      /^Intermediate CA "CN=Sock SHA1 Mid" is signed with SHA-1/,
    ],
  ];
  const { server, log } = await startServer(fx, { tls: { ca: root.cert } });
  try {
    for (const [certFile, reason, detail] of cases) {
      const before = refusals(log, reason).length;
      const bad = await curlWith(server.url, certFile, rsaKey);
      assert.notEqual(bad.code, 0, `admitted ${certFile}: ${bad.stdout}`);
      await log.waitForReason(reason);
      const deadline = Date.now() + 5000;
      while (refusals(log, reason).length === before && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const mine = refusals(log, reason).slice(before);
      assert.equal(mine.length, 1, JSON.stringify(mine));
      assert.equal(mine[0].level, "warn");
      assert.match(String(mine[0].fields.peer), /^127\.0\.0\.1:\d+$/);
      assert.match(String(mine[0].fields.detail), detail);
      const ok = await curlWith(server.url, good.file, rsaKey);
      assert.equal(ok.code, 0, ok.stderr + JSON.stringify(log.records.slice(-3)));
      assert.equal((parseMcpBody(ok.stdout) as { id: number }).id, 1);
    }
  } finally {
    await server.close();
  }
});

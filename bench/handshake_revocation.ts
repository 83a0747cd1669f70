// Full mTLS handshakes per second on serveMcp with client-certificate
// revocation checking off, on with a 100k-entry CRL (warm), and on with OCSP
// (warm cache, real `openssl ocsp` responder), in one run.
//
//   deno run -A bench/handshake_revocation.ts [SECONDS_PER_ROUND=4] [ROUNDS=2]
//
// The server runs here; the load comes from a Node.js 20 child process
// (OpenSSL client, no session resumption, so every connection is a full
// handshake) keeping CONCURRENCY connections in flight. Each connection sends
// one request and waits for the answer, so the server has admitted it (chain,
// revocation) before it counts. Modes alternate over ROUNDS to spread the
// machine's background load evenly. Loopback only; about 30 s in total.
import { demoServerFactory, serveMcp } from "../src/mcp/mod.ts";
import { silentLogger } from "../src/log/mod.ts";
import { createRootCa, issueCertificate } from "../src/pki/mod.ts";
import type { ServeMcpOptions } from "../src/mcp/server_options.ts";
import { createServerAdmission } from "../src/tls/server/admission.ts";
import { peerIdentity } from "../src/policy/identity.ts";
import { readCertificate } from "../src/cert/certificate.ts";
import { makeOpensslCa, startResponder } from "../tests/revocation/_openssl.ts";

const SECONDS = Number(Deno.args[0] ?? 4);
const ROUNDS = Number(Deno.args[1] ?? 2);
const CONCURRENCY = 8;
const CRL_ENTRIES = 100_000;

const LOAD = `
const tls = require("node:tls");
const fs = require("node:fs");
const [port, conc, ms, ca, cert, key] = process.argv.slice(1);
const opts = { host: "127.0.0.1", port: +port, ca: fs.readFileSync(ca), cert: fs.readFileSync(cert),
  key: fs.readFileSync(key), servername: "localhost" };
const end = Date.now() + +ms;
let ok = 0, failed = 0, running = +conc;
const one = () => {
  if (Date.now() >= end) { if (--running === 0) console.log(JSON.stringify({ ok, failed })); return; }
  let answered = false;
  const s = tls.connect(opts, () => s.write("GET /health HTTP/1.1\\r\\nhost: localhost\\r\\n\\r\\n"));
  s.once("data", () => { answered = true; s.destroy(); });
  s.on("error", () => {});
  s.on("close", () => { answered ? ok++ : failed++; one(); });
};
for (let i = 0; i < +conc; i++) one();
`;

async function load(port: number, ms: number, files: { ca: string; cert: string; key: string }) {
  const out = await new Deno.Command("node", {
    args: [
      "-e",
      LOAD,
      String(port),
      String(CONCURRENCY),
      String(ms),
      files.ca,
      files.cert,
      files.key,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("load generator failed");
  return JSON.parse(new TextDecoder().decode(out.stdout)) as { ok: number; failed: number };
}

/** Appends `n` revoked entries to the openssl CA's index.txt (serials 0x0100000000+i). */
async function revokeMany(indexPath: string, n: number) {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const serial = (0x0100000000 + i).toString(16).toUpperCase().padStart(10, "0");
    lines.push(`R\t301231000000Z\t250101000000Z,keyCompromise\t${serial}\tunknown\t/CN=r${i}`);
  }
  await Deno.writeTextFile(indexPath, lines.join("\n") + "\n", { append: true });
}

const root = await Deno.makeTempDir({ prefix: "mcp-mtls-bench-hsrev-" });
let responder: { stop(): Promise<void> } | undefined;
try {
  // Server side: our PKI. Client side: an openssl CA whose certificates name the OCSP responder.
  const serverCa = await createRootCa({ commonName: "Bench Server CA" });
  const server = await issueCertificate(serverCa, "server", {
    commonName: "localhost",
    subjectAltNames: "dns:localhost,ip:127.0.0.1",
    exportable: true,
  });
  // The responder binds an ephemeral port first; leaves issued after name it.
  const ca = await makeOpensslCa(root, "BenchClientCA");
  const signer = await ca.issueResponder("responder");
  const ocsp = await startResponder(ca, signer);
  responder = ocsp;
  await ca.setOcspUrl(ocsp.url);
  const client = await ca.issue("client");
  await revokeMany(`${ca.dir}/index.txt`, CRL_ENTRIES);
  const crlPath = await ca.gencrl();
  await ocsp.sync();
  const files = {
    ca: `${root}/server-ca.crt`,
    cert: client.path,
    key: `${ca.dir}/client.key`,
  };
  await Deno.writeTextFile(files.ca, serverCa.certificatePem);
  const tls = {
    cert: server.certificatePem,
    key: server.privateKeyPem!,
    ca: await Deno.readTextFile(ca.caPath),
  };

  const modes: [string, Partial<ServeMcpOptions>][] = [
    ["off", {}],
    [`CRL ${CRL_ENTRIES / 1000}k entries`, {
      revocation: { crls: [crlPath], crlDistributionPoints: false },
    }],
    ["OCSP (cached)", { revocation: { ocsp: true, crlDistributionPoints: false } }],
  ];
  const results = new Map<string, { ok: number; failed: number; ms: number }>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, extra] of modes) {
      const t0 = performance.now();
      const s = await serveMcp(demoServerFactory, {
        port: 0,
        tls,
        logger: silentLogger,
        limits: { maxConnections: 4096, connectionsPerAddress: false },
        ...extra,
      });
      const ready = performance.now() - t0;
      try {
        const warm = await load(s.address.port, 300, files); // fills the OCSP cache
        if (warm.ok === 0) throw new Error(`${name}: no connection admitted while warming up`);
        const r = await load(s.address.port, SECONDS * 1000, files);
        const acc = results.get(name) ?? { ok: 0, failed: 0, ms: 0 };
        results.set(name, {
          ok: acc.ok + r.ok,
          failed: acc.failed + r.failed,
          ms: acc.ms + SECONDS * 1000,
        });
        if (round === 0 && name.startsWith("CRL")) {
          console.log(
            `(CRL of ${CRL_ENTRIES} entries loaded before listening in ${ready.toFixed(0)} ms)`,
          );
        }
      } finally {
        await s.close();
      }
    }
  }
  // The admission step alone (what the handshake path adds), without TLS noise.
  // Each connection brings its own bytes, read into the model at the TLS
  // boundary (a returning client's DER is found by its SHA-256, as in peerLeaf);
  // the CA is read once, as in the policy.
  const leafDer = client.der;
  const anchor = readCertificate(await Deno.readFile(ca.caPath));
  const n = 5_000;
  const leaves = Array.from({ length: n }, () => readCertificate(leafDer.slice()));
  const identity = peerIdentity(leaves[0]);
  const perCall = new Map<string, number>();
  for (const [name, extra] of modes.slice(1)) {
    const a = (await createServerAdmission({
      revocation: extra.revocation,
      ca: [tls.ca],
      logger: silentLogger,
    }))!;
    const ctx = (i: number) => ({ peer: "127.0.0.1:1", identity, chain: [leaves[i], anchor] });
    if (await a.check(ctx(0))) throw new Error(`${name}: the admission step refused the client`);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const v = a.check(ctx(i));
      if (v instanceof Promise) throw new Error(`${name}: the warm path went to the network`);
    }
    perCall.set(name, ((performance.now() - t0) * 1000) / n);
    a.close();
  }
  const base = results.get("off")!;
  const rate = (r: { ok: number; ms: number }) => (r.ok * 1000) / r.ms;
  const [l1, l5] = Deno.loadavg();
  console.log(
    `\nFull mTLS handshakes/s (P-256, TLS 1.3, Node client, ${CONCURRENCY} in flight, ${ROUNDS}×${SECONDS} s per mode; load average ${
      l1.toFixed(2)
    } / ${l5.toFixed(2)}, ${navigator.hardwareConcurrency} cores)\n`,
  );
  console.log("| revocation | handshakes/s | vs off | failed | admission step, µs/connection |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const [name] of modes) {
    const r = results.get(name)!;
    const us = perCall.get(name);
    console.log(
      `| ${name} | ${rate(r).toFixed(0)} | ${(rate(r) / rate(base)).toFixed(2)} | ${r.failed} | ${
        us === undefined ? "0" : us.toFixed(1)
      } |`,
    );
  }
} finally {
  await responder?.stop();
  await Deno.remove(root, { recursive: true });
}

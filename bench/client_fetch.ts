/**
 * The measurement behind the mTLS client's choice of fetch: Deno's
 * `Deno.createHttpClient` + global `fetch` against undici's `Agent` + `fetch`
 * (what `createMtlsFetch` uses), both presenting a client certificate to a
 * plain `node:https` mTLS server in a child process. Sequential requests:
 * keep-alive requests per second, full handshakes per second, and whether
 * TLS sessions are resumed (counted by the server).
 *
 * Usage: deno run -A bench/client_fetch.ts   (about 20 s)
 */
import { loadavg } from "node:os";
import { Agent, fetch as undiciFetch } from "undici";
import { createRootCa, issueCertificate } from "../src/pki/mod.ts";

const KEEP_ALIVE = 2000;
const HANDSHAKES = 300;

const SERVER = `
import https from "node:https";
const [cert, key, ca] = JSON.parse(await new Response(Deno.stdin.readable).text());
let conns = 0, reused = 0;
const s = https.createServer({ cert, key, ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
  if (req.url === "/stats") return res.end(JSON.stringify({ conns, reused }));
  if (req.url === "/close") res.setHeader("connection", "close");
  res.end("ok");
});
s.on("secureConnection", (t) => { conns++; if (t.isSessionReused()) reused++; });
s.listen(0, "127.0.0.1", () => console.log(s.address().port));
`;

async function main() {
  const ca = await createRootCa({ commonName: "Fetch Bench CA" });
  const server = await issueCertificate(ca, "server", {
    subjectAltNames: "ip:127.0.0.1",
    exportable: true,
  });
  const client = await issueCertificate(ca, "client", { exportable: true });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", SERVER],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(
    new TextEncoder().encode(
      JSON.stringify([server.certificatePem, server.privateKeyPem, ca.certificatePem]),
    ),
  );
  await w.close();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await reader.read()).value);
  const base = `https://127.0.0.1:${port}`;
  const creds = { cert: client.certificatePem, key: client.privateKeyPem! };
  const deno = Deno.createHttpClient({ ...creds, caCerts: [ca.certificatePem] });
  const agent = new Agent({ connect: { ...creds, ca: ca.certificatePem } });
  const stats = async () =>
    (await (await fetch(`${base}/stats`, { client: deno })).json()) as {
      conns: number;
      reused: number;
    };
  console.log(`load average: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  console.log("| client | keep-alive req/s | full handshakes/s | resumed handshakes/s |");
  console.log("| --- | ---: | ---: | ---: |");
  try {
    const time = async (n: number, op: () => Promise<unknown>) => {
      for (let i = 0; i < 20; i++) await op();
      const s0 = await stats();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await op();
      const rate = n / ((performance.now() - t0) / 1000);
      const s1 = await stats();
      return { rate, conns: s1.conns - s0.conns, reused: s1.reused - s0.reused };
    };
    const dKeep = await time(KEEP_ALIVE, async () => {
      await (await fetch(`${base}/`, { client: deno })).text();
    });
    const dFull = await time(HANDSHAKES, async () => {
      const c = Deno.createHttpClient({ ...creds, caCerts: [ca.certificatePem] });
      try {
        await (await fetch(`${base}/`, { client: c })).text();
      } finally {
        c.close();
      }
    });
    const dResumed = await time(HANDSHAKES, async () => {
      await (await fetch(`${base}/close`, { client: deno })).text();
    });
    console.log(
      `| Deno.createHttpClient + fetch | ${dKeep.rate.toFixed(0)} | ${dFull.rate.toFixed(0)} | ` +
        `${dResumed.rate.toFixed(0)} (${dResumed.reused}/${dResumed.conns} resumed) |`,
    );
    const uKeep = await time(KEEP_ALIVE, async () => {
      await (await undiciFetch(`${base}/`, { dispatcher: agent })).text();
    });
    const uFull = await time(HANDSHAKES, async () => {
      const a = new Agent({ connect: { ...creds, ca: ca.certificatePem } });
      try {
        await (await undiciFetch(`${base}/`, { dispatcher: a })).text();
      } finally {
        await a.close();
      }
    });
    const uResumed = await time(HANDSHAKES, async () => {
      await (await undiciFetch(`${base}/close`, { dispatcher: agent })).text();
    });
    console.log(
      `| undici Agent + fetch (node:tls) | ${uKeep.rate.toFixed(0)} | ${uFull.rate.toFixed(0)} | ` +
        `${uResumed.rate.toFixed(0)} (${uResumed.reused}/${uResumed.conns} resumed) |`,
    );
  } finally {
    deno.close();
    await agent.close();
    child.kill();
    await child.status;
    await reader.cancel().catch(() => {});
  }
}

if (import.meta.main) await main();

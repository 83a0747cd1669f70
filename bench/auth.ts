/**
 * `deno run -A bench/auth.ts`: what bound tokens (issue 14, `auth`) add
 * per request, with a warm JWKS cache (the key set fetched once over https
 * from 127.0.0.1 before measuring):
 *
 * 1. the token check alone (`ServerAuth.check`: header, jose `jwtVerify`
 *    ES256 against the cached remote key set, `cnf["x5t#S256"]` against the
 *    connection's certificate), µs per call, for a new token each call, for
 *    one token on new connections (a verified JWT is remembered; only the
 *    binding is checked) and on one connection (the verdict is kept);
 * 2. keep-alive `tools/call` (`echo`) through `serveMcp` (stateless, JSON
 *    responses) from one client over mTLS: no auth, auth with one token,
 *    auth with a new token per request. µs per request (median of 5 runs,
 *    the modes taking turns, each run on a new server) and the ratio to no
 *    auth.
 *
 * Env: BENCH_REQUESTS (default 2000) per run.
 */
import https from "node:https";
import type { AddressInfo } from "node:net";
import { Agent, fetch as undiciFetch } from "undici";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { createServerAuth } from "../src/auth/server_auth.ts";
import { certificateThumbprint } from "../src/auth/thumbprint.ts";
import { decodePem } from "../src/cert/pem.ts";
import { createLogger } from "../src/log/logger.ts";
import { demoServerFactory } from "../src/mcp/demo_tools.ts";
import { serveMcp } from "../src/mcp/server.ts";
import { createRootCa, issueCertificate } from "../src/pki/mod.ts";
import { peerIdentity } from "../src/policy/identity.ts";
import { readCertificate } from "../src/cert/certificate.ts";

const N = Number(Deno.env.get("BENCH_REQUESTS") ?? 2000);
const ISSUER = "https://as.bench.example";
const RESOURCE = "https://127.0.0.1:8443/mcp";
const logger = createLogger({ level: "error" });

const ca = await createRootCa({ commonName: "Bench CA", exportable: true });
const server = await issueCertificate(ca, "server", {
  commonName: "localhost",
  subjectAltNames: "dns:localhost,ip:127.0.0.1",
  exportable: true,
});
const client = await issueCertificate(ca, "client", { commonName: "bench", exportable: true });
const der = decodePem(client.certificatePem, "client")[0].der;
const x5t = await certificateThumbprint(der);

const { privateKey, publicKey } = await generateKeyPair("ES256");
const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
const jwksServer = https.createServer(
  { cert: server.certificatePem, key: server.privateKeyPem! },
  (_req, res) =>
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] })),
);
await new Promise<void>((r) => jwksServer.listen(0, "127.0.0.1", r));
const jwksUrl = `https://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
const auth = {
  resource: RESOURCE,
  authorizationServers: [ISSUER],
  jwks: { url: jwksUrl, ca: ca.certificatePem },
};

let serial = 0;
function sign(): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    scope: "mcp:tools",
    client_id: "bench",
    cnf: { "x5t#S256": x5t },
    jti: String(serial++),
  })
    .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "at+jwt" })
    .setIssuer(ISSUER).setAudience(RESOURCE).setSubject("bench").setIssuedAt(now)
    .setExpirationTime(now + 3600).sign(privateKey);
}
const tokens = await Promise.all(Array.from({ length: N + 1 }, sign));

// 1. The check alone.
const checker = createServerAuth(auth, { logger });
const identity = peerIdentity(readCertificate(der));
const one = { identity };
if ("reason" in await checker.check(`Bearer ${tokens[0]}`, one)) throw new Error("token refused");
type CheckKind = "new token" | "same token, new connection" | "same token, one connection";
/** µs per check of `kind`. */
async function perCall(kind: CheckKind): Promise<number> {
  // A new checker for new tokens: a token checked before is remembered, and costs no verification.
  const c = kind === "new token" ? createServerAuth(auth, { logger }) : checker;
  const warm = await c.check(`Bearer ${tokens[0]}`, { identity }); // the key set is fetched here
  if ("reason" in warm) throw new Error(warm.description);
  const start = performance.now();
  for (let i = 0; i < N; i++) {
    const token = tokens[kind === "new token" ? i : 0];
    const peer = kind === "same token, one connection" ? one : { identity };
    const verdict = await c.check(`Bearer ${token}`, peer);
    if ("reason" in verdict) throw new Error(verdict.description);
  }
  return (performance.now() - start) * 1000 / N;
}
const three = async (kind: CheckKind) =>
  median([await perCall(kind), await perCall(kind), await perCall(kind)]);
await perCall("new token"); // warm-up
const checkFresh = await three("new token");
const checkOther = await three("same token, new connection");
const checkSame = await three("same token, one connection");

// 2. Requests through serveMcp.
type Mode = "no auth" | "auth, one token" | "auth, new token per request";
/** µs per request of one measured run of `mode`, on a server of its own (nothing remembered). */
async function oneRun(mode: Mode): Promise<number> {
  const mcp = await serveMcp(demoServerFactory, {
    port: 0,
    logger,
    sessions: "stateless",
    jsonResponse: true,
    tls: { cert: server.certificatePem, key: server.privateKeyPem!, ca: ca.certificatePem },
    ...(mode === "no auth" ? {} : { auth }),
  });
  const agent = new Agent({
    connect: { ca: ca.certificatePem, cert: client.certificatePem, key: client.privateKeyPem! },
    connections: 1,
  });
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name: "echo", arguments: { text: "hi" } },
  });
  const send = async (i: number) => {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    };
    // Token 0 warms up; a new-token run then sends tokens 1..N, each seen once.
    if (mode !== "no auth") headers.authorization = `Bearer ${tokens[i]}`;
    const res = await undiciFetch(mcp.url, { method: "POST", headers, body, dispatcher: agent });
    await res.text();
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  };
  try {
    for (let i = 0; i < 200; i++) await send(0); // warm-up (JWKS fetched here)
    const start = performance.now();
    for (let i = 1; i <= N; i++) await send(mode === "auth, new token per request" ? i : 0);
    return (performance.now() - start) * 1000 / N;
  } finally {
    await agent.close();
    await mcp.close();
  }
}

function median(xs: number[]): number {
  return xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

// The modes take turns, 5 rounds, so load from elsewhere on the machine hits each alike.
const MODES: Mode[] = ["no auth", "auth, one token", "auth, new token per request"];
const runs = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
for (let round = 0; round < 5; round++) {
  for (const mode of MODES) runs.get(mode)!.push(await oneRun(mode));
}
const [base, same, fresh] = MODES.map((m) => median(runs.get(m)!));
jwksServer.close();

console.log(`token check alone (ES256, warm JWKS), ${N} calls x 3, median:`);
console.log(`| check | µs per call |`);
console.log(`| --- | ---: |`);
console.log(`| new token each call (jose jwtVerify + binding) | ${checkFresh.toFixed(1)} |`);
console.log(
  `| same token on a new connection (remembered, binding checked) | ${checkOther.toFixed(1)} |`,
);
console.log(`| same token again on one connection (kept verdict) | ${checkSame.toFixed(1)} |`);
console.log();
console.log(`keep-alive tools/call through serveMcp, 1 client, ${N} requests x 5 rounds, median:`);
console.log(`| mode | µs per request | added µs | ratio to no auth |`);
console.log(`| --- | ---: | ---: | ---: |`);
for (
  const [mode, us] of [["no auth", base], ["auth, one token", same], [
    "auth, new token per request",
    fresh,
  ]] as const
) {
  console.log(
    `| ${mode} | ${us.toFixed(0)} | ${(us - base).toFixed(0)} | ${(us / base).toFixed(2)} |`,
  );
}

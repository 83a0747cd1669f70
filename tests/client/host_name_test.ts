// Server host names on the client, RFC 9525: the rules of
// src/policy/host_name.ts on certificates made by openssl, each compared with
// `openssl verify -purpose sslserver -verify_hostname H` (or `-verify_ip`),
// then the same rules on real sockets: the client refuses, before any request,
// what the rules refuse. Where we are stricter than OpenSSL (it falls back to
// the subject CN and allows partial-label wildcards by default), the case says so.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { createMtlsFetch, type MtlsFetchOptions } from "../../src/mcp/mod.ts";
import { PeerRejectedError } from "../../src/errors.ts";
import { certsInit } from "../../src/cli/certs_init.ts";
import { readCertificate } from "../../src/cert/mod.ts";
import { checkHostName } from "../../src/policy/host_name.ts";
import { checkServerCertificates } from "../../src/doctor/chain.ts";
import {
  type OpensslServerCerts,
  opensslServerCerts,
  opensslVerifyServer,
} from "../portable/_client_openssl.ts";
import { fixtures, type Pair, recordingLogger, startServer } from "./_helpers.ts";

let made: Promise<OpensslServerCerts> | undefined;

/** Server certificates from openssl, made once per process. */
function certs(): Promise<OpensslServerCerts> {
  made ??= opensslServerCerts({
    good: { subject: "/CN=localhost", san: "DNS:localhost,IP:127.0.0.1,IP:::1" },
    noSan: { subject: "/CN=localhost" },
    twoCn: { subject: "/CN=evil.example/CN=localhost" },
    uriOnly: { subject: "/CN=localhost", san: "URI:spiffe://example.org/server" },
    prefixWildcard: { subject: "/CN=prefix", san: "DNS:ba*.example.com" },
    suffixWildcard: { subject: "/CN=suffix", san: "DNS:*ba.example.com" },
    infixWildcard: { subject: "/CN=infix", san: "DNS:b*a.example.com" },
    wildcard: { subject: "/CN=wildcard", san: "DNS:*.example.com" },
    nestedWildcard: { subject: "/CN=nested", san: "DNS:www.*.example.com" },
    twoWildcards: { subject: "/CN=two", san: "DNS:*.*.example.com" },
    wildcardCom: { subject: "/CN=com", san: "DNS:*.com" },
    wildcardCoUk: { subject: "/CN=couk", san: "DNS:*.co.uk" },
    wildcardLocalhost: { subject: "/CN=wild-localhost", san: "DNS:*.localhost" },
    idnaWildcard: { subject: "/CN=idna", san: "DNS:xn--*.example.com" },
    wildcardOverIdna: { subject: "/CN=over-idna", san: "DNS:*.xn--bcher-kva.example" },
    upperCase: { subject: "/CN=upper", san: "DNS:LocalHost" },
    trailingDot: { subject: "/CN=dot", san: "DNS:localhost." },
    ipAsDns: { subject: "/CN=127.0.0.1", san: "DNS:127.0.0.1" },
    ipOnly: { subject: "/CN=ip", san: "IP:127.0.0.1" },
    mappedIp: { subject: "/CN=mapped", san: "IP:::ffff:127.0.0.1" },
  });
  return made;
}

/**
 * One rule on one certificate: our verdict, and `openssl verify`'s. `stricter`
 * says why we refuse what OpenSSL accepts; `lenient` why we accept what it
 * refuses.
 */
interface Case {
  rule: string;
  cert: string;
  host: string;
  ours: true | RegExp;
  openssl: boolean;
  flag?: "-verify_hostname" | "-verify_ip";
  stricter?: string;
  lenient?: string;
}

const CN_FALLBACK = "OpenSSL falls back to the subject CN when there is no DNS SAN";
const PARTIAL = "OpenSSL allows a wildcard at the start or end of the leftmost label by default";

const CASES: Case[] = [
  { rule: "an exact DNS SAN", cert: "good", host: "localhost", ours: true, openssl: true },
  {
    rule: "DNS names case-insensitively",
    cert: "good",
    host: "LOCALHOST",
    ours: true,
    openssl: true,
  },
  {
    rule: "a SAN written in capitals",
    cert: "upperCase",
    host: "localhost",
    ours: true,
    openssl: true,
  },
  {
    rule: "a reference name with a trailing dot",
    cert: "good",
    host: "localhost.",
    ours: true,
    openssl: false,
    lenient:
      "a trailing dot names the same FQDN (the DNS root); OpenSSL 3.0 compares it as a character",
  },
  {
    rule: "a presented name with a trailing dot (malformed, ignored)",
    cert: "trailingDot",
    host: "localhost",
    ours: /"localhost\." is ignored: not a valid DNS name$/,
    openssl: false,
  },
  {
    rule: "another name",
    cert: "good",
    host: "other.example",
    ours: /^it names "DNS:localhost, IP:127\.0\.0\.1, IP:::1"$/,
    openssl: false,
  },
  {
    rule: "an IPv4 address in an IP SAN",
    cert: "good",
    host: "127.0.0.1",
    flag: "-verify_ip",
    ours: true,
    openssl: true,
  },
  {
    rule: "an IPv6 address in an IP SAN",
    cert: "good",
    host: "::1",
    flag: "-verify_ip",
    ours: true,
    openssl: true,
  },
  {
    rule: "an IPv6 address written uncompressed",
    cert: "good",
    host: "0:0:0:0:0:0:0:1",
    flag: "-verify_ip",
    ours: true,
    openssl: true,
  },
  {
    rule: "a host name against an IP SAN",
    cert: "ipOnly",
    host: "localhost",
    ours: /^it names "IP:127\.0\.0\.1"$/,
    openssl: false,
  },
  {
    rule: "an IP address against a DNS SAN spelling it",
    cert: "ipAsDns",
    host: "127.0.0.1",
    flag: "-verify_ip",
    ours: /an IP address matches only an IP SAN \(RFC 9525 §6\.4\)$/,
    openssl: false,
  },
  {
    rule: "an IP address against a DNS SAN spelling it, as a host name",
    cert: "ipAsDns",
    host: "127.0.0.1",
    flag: "-verify_hostname",
    ours: /an IP address matches only an IP SAN/,
    openssl: true,
    stricter: "openssl -verify_hostname compares the text; an IP-ID matches iPAddress SANs only",
  },
  {
    rule: "IPv4 against its IPv4-mapped IPv6 SAN",
    cert: "mappedIp",
    host: "127.0.0.1",
    flag: "-verify_ip",
    ours: /^it names "IP:::ffff:127\.0\.0\.1"$/,
    openssl: false,
  },
  {
    rule: "an IPv4-mapped IPv6 address",
    cert: "mappedIp",
    host: "::ffff:127.0.0.1",
    flag: "-verify_ip",
    ours: true,
    openssl: true,
  },
  {
    rule: "no SAN, the subject CN matching",
    cert: "noSan",
    host: "localhost",
    ours:
      /^it has no subject alternative name; its subject CN "localhost" is not used \(RFC 9525 §2\)$/,
    openssl: true,
    stricter: CN_FALLBACK,
  },
  {
    rule: "no SAN, the second of two subject CNs matching",
    cert: "twoCn",
    host: "localhost",
    ours: /its subject CNs "evil\.example", "localhost" are not used/,
    openssl: true,
    stricter: CN_FALLBACK + " and tries every CN",
  },
  {
    rule: "a URI SAN only, the subject CN matching",
    cert: "uriOnly",
    host: "localhost",
    ours: /^it has no subject alternative name; its subject CN "localhost" is not used/,
    openssl: true,
    stricter: CN_FALLBACK,
  },
  {
    rule: "a whole-label wildcard",
    cert: "wildcard",
    host: "a.example.com",
    ours: true,
    openssl: true,
  },
  {
    rule: "a wildcard, case-insensitively",
    cert: "wildcard",
    host: "A.Example.COM",
    ours: true,
    openssl: true,
  },
  {
    rule: "a wildcard standing for an A-label",
    cert: "wildcard",
    host: "xn--bcher-kva.example.com",
    ours: true,
    openssl: true,
  },
  {
    rule: "a wildcard standing for two labels",
    cert: "wildcard",
    host: "a.b.example.com",
    ours: /^it names "DNS:\*\.example\.com"$/,
    openssl: false,
  },
  {
    rule: "a wildcard standing for no label",
    cert: "wildcard",
    host: "example.com",
    ours: /^it names "DNS:\*\.example\.com"$/,
    openssl: false,
  },
  {
    rule: "a partial-label wildcard ba*",
    cert: "prefixWildcard",
    host: "bar.example.com",
    ours:
      /"ba\*\.example\.com" is ignored: a wildcard must be the whole leftmost label \(RFC 9525 §6\.3\)$/,
    openssl: true,
    stricter: PARTIAL,
  },
  {
    rule: "a partial-label wildcard *ba",
    cert: "suffixWildcard",
    host: "fooba.example.com",
    ours: /"\*ba\.example\.com" is ignored: a wildcard must be the whole leftmost label/,
    openssl: true,
    stricter: PARTIAL,
  },
  {
    rule: "a partial-label wildcard b*a",
    cert: "infixWildcard",
    host: "bxa.example.com",
    ours: /is ignored: a wildcard must be the whole leftmost label/,
    openssl: false,
  },
  {
    rule: "a wildcard in an A-label (xn--*)",
    cert: "idnaWildcard",
    host: "xn--bcher-kva.example.com",
    ours: /"xn--\*\.example\.com" is ignored: a wildcard must be the whole leftmost label/,
    openssl: false,
  },
  {
    rule: "a whole-label wildcard over an A-label domain",
    cert: "wildcardOverIdna",
    host: "www.xn--bcher-kva.example",
    ours: true,
    openssl: true,
  },
  {
    rule: "a U-label reference, converted to its A-label",
    cert: "wildcardOverIdna",
    host: "www.bücher.example",
    ours: true,
    openssl: false,
    lenient: "RFC 9525 §6.3: the client MUST turn U-labels into A-labels; openssl compares bytes",
  },
  {
    rule: "a wildcard that is not the leftmost label",
    cert: "nestedWildcard",
    host: "www.a.example.com",
    ours: /"www\.\*\.example\.com" is ignored: a wildcard must be the whole leftmost label/,
    openssl: false,
  },
  {
    rule: "two wildcards",
    cert: "twoWildcards",
    host: "a.b.example.com",
    ours: /is ignored: a wildcard must be the whole leftmost label/,
    openssl: false,
  },
  {
    rule: "*.com",
    cert: "wildcardCom",
    host: "example.com",
    ours: /"\*\.com" is ignored: a wildcard must not cover a public suffix$/,
    openssl: false,
  },
  {
    rule: "*.localhost",
    cert: "wildcardLocalhost",
    host: "a.localhost",
    ours: /"\*\.localhost" is ignored: a wildcard must not cover a public suffix$/,
    openssl: false,
  },
  {
    rule: "*.co.uk",
    cert: "wildcardCoUk",
    host: "example.co.uk",
    ours: /"\*\.co\.uk" is ignored: a wildcard must not cover a public suffix$/,
    openssl: true,
    stricter: "OpenSSL only requires two labels after the *",
  },
  {
    rule: "a wildcard as the reference name",
    cert: "wildcard",
    host: "*.example.com",
    ours: /"\*\.example\.com" is not a valid host name or IP address$/,
    openssl: true,
    stricter:
      "a wildcard belongs to presented names only (RFC 9525 §6.3); OpenSSL compares the text",
  },
];

for (const c of CASES) {
  const verdict = c.ours === true ? "admits" : "refuses";
  const note = c.stricter
    ? ` (stricter than OpenSSL: ${c.stricter})`
    : c.lenient
    ? ` (OpenSSL refuses: ${c.lenient})`
    : "";
  Deno.test(`checkHostName() ${verdict} "${c.host}" for ${c.rule}${note}`, async () => {
    const all = await certs();
    const { cert } = all.leaves[c.cert];
    const refusal = checkHostName(c.host, readCertificate(cert));
    if (c.ours === true) assert.equal(refusal, undefined, refusal?.message);
    else {
      assert.equal(refusal?.reason, "hostname_mismatch");
      assert.match(refusal!.detail, c.ours);
      assert.equal(
        refusal!.message,
        `Certificate is not valid for "${c.host}" (${refusal!.detail})`,
      );
    }
    const flag = c.flag ?? "-verify_hostname";
    const openssl = await opensslVerifyServer(all.ca, cert, { host: c.host, flag });
    assert.equal(openssl.ok, c.openssl, `openssl verify ${flag} ${c.host}: ${openssl.output}`);
    // The verdicts differ exactly where the case says why.
    assert.equal(c.openssl !== (c.ours === true), Boolean(c.stricter ?? c.lenient));
  });
}

/** A node:https server on `host` with `pair`, trusting the PKI test CA for clients. */
async function serveOn(
  host: string,
  pair: Pair,
): Promise<{ port: number; requests: number; close(): Promise<void> }> {
  const f = await fixtures();
  const state = { requests: 0 };
  const server = https.createServer(
    { ...pair, ca: f.ca, requestCert: true, rejectUnauthorized: true },
    (_req, res) => {
      state.requests++;
      res.end("ok");
    },
  );
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get requests() {
      return state.requests;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** One request to a server with `pair` on 127.0.0.1, from a client trusting `ca`. */
async function request(
  pair: Pair,
  ca: string,
  options: MtlsFetchOptions = {},
): Promise<{ result: unknown; requests: number; port: number }> {
  const f = await fixtures();
  const server = await startServer({ ...pair, ca: f.ca });
  const fetch = createMtlsFetch({ ...f.client, ca, logger: recordingLogger(), ...options });
  try {
    let result: unknown;
    try {
      result = await (await fetch(server.url)).text();
    } catch (e) {
      result = e;
    }
    return { result, requests: server.requests, port: server.port };
  } finally {
    await fetch.close();
    await server.close();
  }
}

function assertMismatch(
  r: { result: unknown; requests: number; port: number },
  message: RegExp,
): void {
  assert.ok(r.result instanceof PeerRejectedError, `expected a refusal, got ${r.result}`);
  assert.equal(r.result.code, "hostname_mismatch");
  assert.equal(r.result.peer, `127.0.0.1:${r.port}`);
  assert.match(r.result.message, message);
  assert.equal(r.requests, 0, "no request may reach a server whose name does not match");
}

Deno.test("createMtlsFetch() refuses a server certificate with no SAN whose subject CN matches", async () => {
  const c = await certs();
  const r = await request(c.leaves.noSan, c.ca, { serverName: "localhost" });
  assertMismatch(
    r,
    /^Server "127\.0\.0\.1:\d+" certificate \("CN=localhost"\) is not valid for "localhost" \(it has no subject alternative name; its subject CN "localhost" is not used \(RFC 9525 §2\)\)$/,
  );
});

Deno.test("createMtlsFetch() refuses a certificate with two subject CNs and no SAN, whichever CN matches", async () => {
  const c = await certs();
  const r = await request(c.leaves.twoCn, c.ca, { serverName: "localhost" });
  assertMismatch(
    r,
    /\(it has no subject alternative name; its subject CNs "evil\.example", "localhost" are not used \(RFC 9525 §2\)\)$/,
  );
});

Deno.test("createMtlsFetch() refuses a partial-label wildcard ba*.example.com for bar.example.com", async () => {
  const c = await certs();
  const r = await request(c.leaves.prefixWildcard, c.ca, { serverName: "bar.example.com" });
  assertMismatch(
    r,
    /is not valid for "bar\.example\.com" \(it names "DNS:ba\*\.example\.com"; "ba\*\.example\.com" is ignored: a wildcard must be the whole leftmost label \(RFC 9525 §6\.3\)\)$/,
  );
});

Deno.test("createMtlsFetch() refuses *.localhost for a.localhost: a wildcard over a single label", async () => {
  const c = await certs();
  const r = await request(c.leaves.wildcardLocalhost, c.ca, { serverName: "a.localhost" });
  assertMismatch(r, /"\*\.localhost" is ignored: a wildcard must not cover a public suffix/);
});

Deno.test("createMtlsFetch() admits *.example.com for a.example.com and refuses it for a.b.example.com", async () => {
  const c = await certs();
  const ok = await request(c.leaves.wildcard, c.ca, { serverName: "a.example.com" });
  assert.equal(ok.result, "ok");
  const deep = await request(c.leaves.wildcard, c.ca, { serverName: "a.b.example.com" });
  assertMismatch(
    deep,
    /is not valid for "a\.b\.example\.com" \(it names "DNS:\*\.example\.com"\)$/,
  );
});

Deno.test("createMtlsFetch() refuses an IP address written as a DNS SAN", async () => {
  const c = await certs();
  const r = await request(c.leaves.ipAsDns, c.ca);
  assertMismatch(
    r,
    /is not valid for "127\.0\.0\.1" \(it names "DNS:127\.0\.0\.1"; an IP address matches only an IP SAN \(RFC 9525 §6\.4\)\)$/,
  );
});

Deno.test("createMtlsFetch() admits the certs init server certificate at localhost, 127.0.0.1 and ::1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcp-mtls-host-name-" });
  const quiet = { stdout: () => {}, stderr: () => {}, env: () => undefined };
  try {
    assert.equal(await certsInit(["--dir", dir], quiet), 0);
    const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
    const [ca, serverCert, serverKey, clientCert, clientKey] = await Promise.all(
      ["ca.crt", "server.crt", "server.key", "client.crt", "client.key"].map(read),
    );
    for (
      const [listen, url, serverName] of [
        ["127.0.0.1", "https://127.0.0.1", undefined],
        ["::1", "https://[::1]", undefined],
        ["127.0.0.1", "https://127.0.0.1", "localhost"],
      ] as const
    ) {
      const server = https.createServer(
        { cert: serverCert, key: serverKey, ca, requestCert: true, rejectUnauthorized: true },
        (_req, res) => res.end("ok"),
      );
      await new Promise<void>((resolve) => server.listen(0, listen, resolve));
      const port = (server.address() as AddressInfo).port;
      const fetch = createMtlsFetch({
        cert: clientCert,
        key: clientKey,
        ca,
        serverName,
        logger: recordingLogger(),
      });
      try {
        assert.equal(await (await fetch(`${url}:${port}/`)).text(), "ok", `${url} ${serverName}`);
      } finally {
        await fetch.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Keeps the IPv6 helper honest: a server on ::1 with a certificate naming only
// 127.0.0.1 is refused (the address is compared, not the loopback-ness).
Deno.test("createMtlsFetch() refuses ::1 against a certificate naming only IP 127.0.0.1", async () => {
  const c = await certs();
  const f = await fixtures();
  const server = await serveOn("::1", c.leaves.ipOnly);
  const fetch = createMtlsFetch({ ...f.client, ca: c.ca, logger: recordingLogger() });
  try {
    const error = await fetch(`https://[::1]:${server.port}/`).catch((e) => e);
    assert.ok(error instanceof PeerRejectedError, String(error));
    assert.equal(error.code, "hostname_mismatch");
    assert.match(error.message, /is not valid for "::1" \(it names "IP:127\.0\.0\.1"\)$/);
    assert.equal(server.requests, 0);
  } finally {
    await fetch.close();
    await server.close();
  }
});

Deno.test("doctor judges host names with the same rule: no SAN, partial wildcard, wildcard", async () => {
  const c = await certs();
  const hostname = (leaf: string, host: string) => {
    const { steps } = checkServerCertificates({
      chain: [new Uint8Array(new X509Certificate(c.leaves[leaf].cert).raw)],
      anchors: [c.ca],
      anchorSource: "--ca",
      host,
      pins: [],
      now: new Date(),
    });
    assert.equal(steps[0].status, "pass", steps[0].summary);
    return steps.find((s) => s.name === "Hostname")!;
  };
  const noSan = hostname("noSan", "localhost");
  assert.equal(noSan.code, "hostname_mismatch");
  assert.equal(
    noSan.summary,
    'server certificate "CN=localhost" is for no names, not "localhost": ' +
      'its subject CN "localhost" is not used (RFC 9525 §2)',
  );
  const partial = hostname("prefixWildcard", "bar.example.com");
  assert.equal(
    partial.summary,
    'server certificate "CN=prefix" is for DNS:ba*.example.com, not "bar.example.com": ' +
      '"ba*.example.com" is ignored: a wildcard must be the whole leftmost label (RFC 9525 §6.3)',
  );
  assert.equal(hostname("wildcard", "a.example.com").status, "pass");
  assert.equal(hostname("good", "[::1]").status, "pass");
});

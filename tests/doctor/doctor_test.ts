// `mcp-mtls doctor` against real peers on 127.0.0.1: a healthy serveMcp, and
// each problem it must name exactly (in the text and as the JSON code).
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  clientArgs,
  files,
  releasedPort,
  runDoctor,
  step,
  withOpenSsl,
  withPlainHttps,
  withServeMcp,
} from "./_peers.ts";

/** Runs doctor twice, as text and as --json. */
async function diagnose(url: string, extra: string[] = [], client?: string[]) {
  const args = [url, ...(client ?? await clientArgs()), ...extra];
  const text = await runDoctor(args);
  const json = await runDoctor([...args, "--json"]);
  assert.equal(text.err, "");
  assert.equal(json.code, text.code);
  return { text: text.out, json: json.out, code: text.code };
}

Deno.test("doctor passes every step against a healthy serveMcp, MCP initialize included, and exits 0", async () => {
  const f = await files();
  await withServeMcp(f.server, async (url) => {
    const { text, json, code } = await diagnose(url, ["--pin", f.serverPin]);
    assert.equal(code, 0, text);
    for (
      const line of [
        /^✔ TCP {8}connected to 127\.0\.0\.1:\d+ in \d+\.\d ms$/m,
        /^✔ TLS {8}TLSv1\.3, TLS_AES_(256_GCM_SHA384|128_GCM_SHA256)$/m,
        /^✔ Chain {6}"CN=localhost" is signed by "CN=Doctor CA" from --ca$/m,
        /^✔ Expiry {5}server certificate valid until \S+ \(36\d days left\)$/m,
        /^✔ Hostname {3}"127\.0\.0\.1" matches the certificate$/m,
        new RegExp(
          `^✔ Pin {8}server key ${f.serverPin.replaceAll("+", "\\+")} matches --pin$`,
          "m",
        ),
        /^- Revocation skipped: the server certificate names no CRL or OCSP responder/m,
        /^✔ Request {4}server asks for a client certificate and refuses connections without one$/m,
        /^✔ Client {5}server accepted our certificate "CN=agent-1"/m,
        /^✔ MCP {8}initialize answered by "mcp-mtls-demo"/m,
        /^All checks passed for https:\/\/127\.0\.0\.1:\d+\/mcp$/m,
      ]
    ) assert.match(text, line);
    const parsed = JSON.parse(json);
    assert.equal(parsed.ok, true);
    assert.deepEqual(
      parsed.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`),
      [
        "TCP:pass",
        "TLS:pass",
        "Chain:pass",
        "Expiry:pass",
        "Hostname:pass",
        "Pin:pass",
        "Revocation:skip",
        "Request:pass",
        "Client:pass",
        "MCP:pass",
      ],
    );
  });
});

Deno.test("doctor names a server certificate from another CA: unknown_ca in Chain, MCP skipped, exit 1", async () => {
  const f = await files();
  await withServeMcp(f.otherCaServer, async (url) => {
    const { text, json, code } = await diagnose(url);
    assert.equal(code, 1);
    assert.match(
      text,
      /^✖ Chain {6}unknown_ca: server certificate "CN=localhost" is not signed by a CA in --ca \(issuer "CN=Other CA"\)$/m,
    );
    assert.match(
      text,
      /^ {13}fix: pass the CA that issued the server certificate with --ca, or check you are talking to the right server$/m,
    );
    assert.match(text, /^- MCP {8}skipped: Chain failed$/m);
    assert.equal(step(json, "Chain").code, "unknown_ca");
    assert.equal(JSON.parse(json).ok, false);
  });
});

Deno.test("doctor names an expired server certificate: expired in Expiry with the date", async () => {
  const f = await files();
  await withServeMcp(f.expiredServer, async (url) => {
    const { text, json, code } = await diagnose(url);
    assert.equal(code, 1);
    assert.match(text, /^✔ Chain /m);
    assert.match(
      text,
      /^✖ Expiry {5}expired: server certificate "CN=localhost" expired on \d{4}-\d\d-\d\dT[\d:.]+Z \(1 day ago\)$/m,
    );
    assert.match(text, /fix: renew the server certificate and reload the server/);
    assert.equal(step(json, "Expiry").code, "expired");
  });
});

Deno.test("doctor names a host name mismatch: 127.0.0.1 against a certificate only for example.com", async () => {
  const f = await files();
  await withServeMcp(f.wrongName, async (url) => {
    const { text, json, code } = await diagnose(url);
    assert.equal(code, 1);
    assert.match(
      text,
      /^✖ Hostname {3}hostname_mismatch: server certificate "CN=example.com" is for DNS:example\.com, not "127\.0\.0\.1"$/m,
    );
    assert.match(text, /fix: .*--san ip:127\.0\.0\.1/);
    assert.equal(step(json, "Hostname").code, "hostname_mismatch");
  });
});

Deno.test("doctor names a pin mismatch, showing the server's key and the expected pin", async () => {
  const f = await files();
  await withServeMcp(f.server, async (url) => {
    const { text, json, code } = await diagnose(url, ["--pin", f.otherPin]);
    assert.equal(code, 1);
    assert.ok(
      text.includes(
        `✖ Pin        pin_mismatch: server key ${f.serverPin} matches no --pin (expected ${f.otherPin})`,
      ),
      text,
    );
    assert.equal(step(json, "Pin").code, "pin_mismatch");
    assert.equal(step(json, "Chain").status, "pass");
  });
});

Deno.test("doctor names an openssl s_server that does not ask for a client certificate: no_client_cert", async () => {
  await withOpenSsl([], async (url) => {
    const { text, json, code } = await diagnose(url);
    assert.equal(code, 1);
    assert.match(
      text,
      /^✖ Request {4}no_client_cert: server did not ask for a client certificate \(no CertificateRequest in its handshake\): mutual TLS is off and any client can connect$/m,
    );
    assert.match(text, /fix: configure the server to request and require client certificates/);
    assert.match(text, /^- Client {5}skipped: the server does not ask for one$/m);
    assert.equal(step(json, "Request").code, "no_client_cert");
    assert.equal(step(json, "Chain").status, "pass");
  });
});

Deno.test("doctor names a node:https server without requestCert as not asking for a client certificate", async () => {
  await withPlainHttps(async (url) => {
    const { text, json, code } = await diagnose(url);
    assert.equal(code, 1);
    assert.match(
      text,
      /^✖ Request {4}no_client_cert: server did not ask for a client certificate/m,
    );
    assert.equal(step(json, "Request").code, "no_client_cert");
  });
});

Deno.test("doctor passes the client certificate steps against openssl s_server -Verify 1", async () => {
  await withOpenSsl(["-Verify", "1"], async (url) => {
    // s_server is no MCP server: initialize gets no answer, so keep its wait short
    const { text, json } = await diagnose(url, ["--timeout", "1500"]);
    assert.match(
      text,
      /^✔ Request {4}server asks for a client certificate and refuses connections without one$/m,
    );
    assert.match(
      text,
      /^✔ Client {5}server accepted our certificate "CN=agent-1" \(answered HTTP 200\)$/m,
    );
    assert.equal(step(json, "Client").status, "pass");
    assert.match(text, /^✖ MCP {8}mcp_error: no answer to initialize within 1500 ms$/m);
  });
});

Deno.test("doctor names a server that refuses our client certificate (another CA): unknown_ca in Client", async () => {
  const f = await files();
  await withServeMcp(f.server, async (url) => {
    const client = ["--cert", f.otherClient.cert, "--key", f.otherClient.key, "--ca", f.ca];
    const { text, json, code } = await diagnose(url, [], client);
    assert.equal(code, 1);
    assert.match(
      text,
      /^✖ Client {5}unknown_ca: our certificate "CN=intruder" was refused: Server "127\.0\.0\.1:\d+" closed the connection right after the handshake without an answer: it most likely does not trust the CA of our client certificate$/m,
    );
    assert.match(text, /fix: have the server trust the CA that issued your certificate/);
    assert.equal(step(json, "Client").code, "unknown_ca");
    assert.equal(step(json, "Chain").status, "pass");
  });
});

Deno.test("doctor without --cert against a server requiring one says no_client_cert and how to fix it", async () => {
  const f = await files();
  await withServeMcp(f.server, async (url) => {
    const { text, code } = await diagnose(url, [], ["--ca", f.ca]);
    assert.equal(code, 1);
    assert.match(
      text,
      /^✖ Client {5}no_client_cert: server requires a client certificate and none was given\n {13}fix: pass your certificate and key with --cert and --key$/m,
    );
  });
});

Deno.test("doctor with nothing listening says connection refused and skips every later step", async () => {
  const port = await releasedPort(); // released: used only to expect "connection refused"
  const { text, json, code } = await diagnose(`https://127.0.0.1:${port}/mcp`);
  assert.equal(code, 1);
  assert.match(
    text,
    new RegExp(
      `^✖ TCP {8}connection_failed: nothing is listening on 127\\.0\\.0\\.1:${port} \\(connection refused\\)$`,
      "m",
    ),
  );
  assert.match(text, /fix: start the server, or check the host and port in the URL/);
  assert.match(text, /^- TLS {8}skipped: TCP failed$/m);
  assert.match(text, /^- MCP {8}skipped: TCP failed$/m);
  assert.equal(step(json, "TCP").code, "connection_failed");
  const statuses = JSON.parse(json).steps.map((s: { status: string }) => s.status);
  assert.deepEqual(statuses, ["fail", ...Array(9).fill("skip")]);
});

Deno.test("doctor checks --crl: a CRL listing the server certificate fails Revocation with revoked", async () => {
  const f = await files();
  await withServeMcp(f.server, async (url) => {
    const { text, json, code } = await diagnose(url, ["--crl", f.revokedCrl]);
    assert.equal(code, 1);
    assert.match(
      text,
      /^✖ Revocation revoked: server certificate serial [0-9a-f]+ was revoked on \S+ \(keyCompromise\)$/m,
    );
    assert.equal(step(json, "Revocation").code, "revoked");
  });
});

Deno.test("doctor checks --crl: a CRL that does not list the server certificate passes Revocation", async () => {
  const f = await files();
  await withServeMcp(f.server, async (url) => {
    const { text, code } = await diagnose(url, ["--crl", f.emptyCrl]);
    assert.equal(code, 0, text);
    assert.match(text, /^✔ Revocation not revoked \(crl: /m);
  });
});

Deno.test("doctor pointed at a plain HTTP port says so in TLS and skips the rest", async () => {
  const server = http.createServer((_req, res) => res.end("plain"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    const { text, json, code } = await diagnose(`https://127.0.0.1:${port}/mcp`);
    assert.equal(code, 1);
    assert.match(
      text,
      new RegExp(
        `^✖ TLS {8}handshake_failed: 127\\.0\\.0\\.1:${port} answered in plain HTTP, not TLS$`,
        "m",
      ),
    );
    assert.match(text, /^- Chain {6}skipped: TLS failed$/m);
    assert.equal(step(json, "TLS").code, "handshake_failed");
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

Deno.test("doctor against a TLS 1.2-only s_server -Verify 1 without --cert: TLS and Request pass, Client says no_client_cert", async () => {
  const f = await files();
  await withOpenSsl(["-tls1_2", "-Verify", "1"], async (url) => {
    const { text, json, code } = await diagnose(url, [], ["--ca", f.ca]);
    assert.equal(code, 1);
    assert.match(text, /^✔ TLS {8}TLSv1\.2 \(server hello seen; the full handshake was refused/m);
    assert.match(text, /^✔ Chain {6}"CN=localhost" is signed by "CN=Doctor CA" from --ca$/m);
    assert.match(text, /^✔ Request {4}server asks for a client certificate and refuses/m);
    assert.equal(step(json, "Client").code, "no_client_cert");
  });
});

Deno.test("doctor against a TLS 1.3-only server that does not ask: no_client_cert from the anonymous answer", async () => {
  await withOpenSsl(["-tls1_3"], async (url) => {
    const { text, json, code } = await diagnose(url);
    assert.equal(code, 1);
    assert.match(
      text,
      /^✖ Request {4}no_client_cert: server does not require a client certificate: without one it answered HTTP 200$/m,
    );
    assert.equal(step(json, "Request").code, "no_client_cert");
    assert.match(text, /^- Client {5}skipped: the server serves clients without a certificate/m);
  });
});

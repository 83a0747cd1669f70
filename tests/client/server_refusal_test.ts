// The server refusing us, seen through TLS alerts, silent hang-ups (Deno's
// node:https), real OpenSSL alerts (openssl s_server) and HTTP 403 + reason.
import assert from "node:assert/strict";
import net from "node:net";
import { createMtlsFetch } from "../../src/mcp/mod.ts";
import { MtlsError, PeerRejectedError } from "../../src/errors.ts";
import { fixtures, startServer } from "./_helpers.ts";
import { startOpensslServer } from "../_openssl_s_server.ts";

async function refusal(
  serverMax: "TLSv1.2" | "TLSv1.3",
  client: { cert?: string; key?: string },
): Promise<{ error: unknown; requests: number }> {
  const f = await fixtures();
  const srv = await startServer({ ...f.server, ca: f.ca, maxVersion: serverMax });
  const fetch = createMtlsFetch({ ca: f.ca, ...client });
  try {
    const error = await fetch(srv.url).then((r) => r.text(), (e) => e);
    return { error, requests: srv.requests };
  } finally {
    await fetch.close();
    await srv.close();
  }
}

for (const version of ["TLSv1.3", "TLSv1.2"] as const) {
  Deno.test(`a ${version} server refusing a client without certificate surfaces as no_client_cert`, async () => {
    const { error, requests } = await refusal(version, {});
    assert.ok(error instanceof PeerRejectedError, String(error));
    assert.equal(error.code, "no_client_cert");
    assert.match(
      error.message,
      /^Server "127\.0\.0\.1:\d+" requires a client certificate and we presented none \(alert "certificate_required"\)$/,
    );
    assert.equal(requests, 0);
  });

  Deno.test(`a ${version} server hanging up on a certificate from another CA surfaces as unknown_ca`, async () => {
    const f = await fixtures();
    const { error, requests } = await refusal(version, f.otherClient);
    assert.ok(error instanceof PeerRejectedError, String(error));
    assert.equal(error.code, "unknown_ca");
    assert.match(
      error.message,
      /^Server "127\.0\.0\.1:\d+" closed the connection right after the handshake without an answer: it most likely does not trust the CA of our client certificate$/,
    );
    assert.equal(requests, 0);
  });
}

Deno.test("a 403 whose JSON-RPC error carries data.reason surfaces as that reason", async () => {
  const f = await fixtures();
  const srv = await startServer({ ...f.server, ca: f.ca }, (_req, res) => {
    res.writeHead(403, { "content-type": "application/json" });
    res.end(JSON.stringify({
      jsonrpc: "2.0",
      error: {
        code: -32001,
        message: 'Tool "admin" is not allowed',
        data: { reason: "identity_denied" },
      },
      id: 1,
    }));
  });
  const fetch = createMtlsFetch({ ...f.client, ca: f.ca });
  try {
    await assert.rejects(fetch(srv.url, { method: "POST", body: "{}" }), (e: unknown) => {
      assert.ok(e instanceof PeerRejectedError);
      assert.equal(e.code, "identity_denied");
      assert.equal(
        e.message,
        `Server refused the request to "${srv.url}" with HTTP 403: Tool "admin" is not allowed`,
      );
      return true;
    });
  } finally {
    await fetch.close();
    await srv.close();
  }
});

Deno.test("a 403 without a reason code is handed back to the caller untouched", async () => {
  const f = await fixtures();
  const srv = await startServer({ ...f.server, ca: f.ca }, (_req, res) => {
    res.writeHead(403, { "content-type": "application/json" });
    res.end('{"error":"nope"}');
  });
  const fetch = createMtlsFetch({ ...f.client, ca: f.ca });
  try {
    const res = await fetch(srv.url);
    assert.equal(res.status, 403);
    assert.equal(await res.text(), '{"error":"nope"}');
  } finally {
    await fetch.close();
    await srv.close();
  }
});

Deno.test("a refused TCP connection surfaces as connection_failed", async () => {
  // A port bound and released at once, used only to expect a refusal: nothing listens on it.
  const port = await releasedPort();
  const fetch = createMtlsFetch({});
  try {
    await assert.rejects(fetch(`https://127.0.0.1:${port}/`), (e: unknown) => {
      assert.ok(e instanceof MtlsError && !(e instanceof PeerRejectedError));
      assert.equal(e.code, "connection_failed");
      assert.match(e.message, new RegExp(`^Cannot connect to "127\\.0\\.0\\.1:${port}": `));
      return true;
    });
  } finally {
    await fetch.close();
  }
});

/** A port just released by its listener: only for "nothing listens here", never to listen on. */
function releasedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

// ---- openssl s_server: a real OpenSSL peer that sends alerts ----

async function withOpenSsl(
  args: string[],
  run: (url: string) => Promise<void>,
): Promise<void> {
  const f = await fixtures();
  const dir = await Deno.makeTempDir({ prefix: "mcp-mtls-client-" });
  try {
    await Deno.writeTextFile(`${dir}/server.crt`, f.server.cert);
    await Deno.writeTextFile(`${dir}/server.key`, f.server.key);
    await Deno.writeTextFile(`${dir}/ca.crt`, f.ca);
    const server = await startOpensslServer([
      "-cert",
      `${dir}/server.crt`,
      "-key",
      `${dir}/server.key`,
      "-CAfile",
      `${dir}/ca.crt`,
      ...args,
    ]);
    try {
      await run(`https://127.0.0.1:${server.port}/`);
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("against openssl s_server: a good client gets an answer", async () => {
  const f = await fixtures();
  await withOpenSsl(["-Verify", "1", "-verify_return_error"], async (url) => {
    const fetch = createMtlsFetch({ ...f.client, ca: f.ca });
    try {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /Client certificate/);
    } finally {
      await fetch.close();
    }
  });
});

Deno.test("against openssl s_server: alerts map to no_client_cert and unknown_ca", async () => {
  const f = await fixtures();
  await withOpenSsl(["-Verify", "1", "-verify_return_error"], async (url) => {
    const none = createMtlsFetch({ ca: f.ca });
    const other = createMtlsFetch({ ...f.otherClient, ca: f.ca });
    try {
      await assert.rejects(none(url), {
        name: "PeerRejectedError",
        code: "no_client_cert",
        message:
          /requires a client certificate and we presented none \(alert "certificate_required"\)$/,
      });
      await assert.rejects(other(url), {
        name: "PeerRejectedError",
        code: "unknown_ca",
        message: /refused our client certificate \(alert "unknown_ca"\)$/,
      });
    } finally {
      await none.close();
      await other.close();
    }
  });
});

Deno.test("against openssl s_server -tls1_2: no certificate maps to no_client_cert", async () => {
  const f = await fixtures();
  await withOpenSsl(["-Verify", "1", "-verify_return_error", "-tls1_2"], async (url) => {
    const none = createMtlsFetch({ ca: f.ca });
    try {
      await assert.rejects(none(url), { name: "PeerRejectedError", code: "no_client_cert" });
    } finally {
      await none.close();
    }
  });
});

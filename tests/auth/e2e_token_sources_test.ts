// What the mTLS fetch puts on the wire for each token option, seen by a real
// node:https server on 127.0.0.1 that echoes the Authorization header back.
import assert from "node:assert/strict";
import { staticToken, type TokenSource } from "../../src/auth/token_source.ts";
import { tokenFromFile } from "../../src/auth/token_source_file.ts";
import { MtlsError } from "../../src/errors.ts";
import { createMtlsFetch } from "../../src/mcp/client_fetch.ts";
import { fixtures, startServer } from "../client/_helpers.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const dir = await moduleTempDir("mcp-mtls-token-sources-");

/** An mTLS server answering with the Authorization header it got (or "none"). */
async function withEcho(run: (url: string) => Promise<void>): Promise<void> {
  const f = await fixtures();
  const server = await startServer(
    { ...f.server, ca: f.ca },
    (req, res) => res.end(req.headers.authorization ?? "none"),
  );
  try {
    await run(server.url);
  } finally {
    await server.close();
  }
}

async function seen(options: Parameters<typeof createMtlsFetch>[0], init?: RequestInit) {
  const f = await fixtures();
  let out = "";
  await withEcho(async (url) => {
    const fetch = createMtlsFetch({ ...f.client, ca: f.ca, ...options });
    try {
      out = await (await fetch(url, init)).text();
    } finally {
      await fetch.close();
    }
  });
  return out;
}

Deno.test("createMtlsFetch({ token }) sends Authorization: Bearer on the mTLS connection", async () => {
  assert.equal(await seen({ token: "abc.def-ghi_~+/=" }), "Bearer abc.def-ghi_~+/=");
  assert.equal(await seen({}), "none");
});

Deno.test("a request that already has an Authorization header keeps it", async () => {
  assert.equal(
    await seen({ token: "ours" }, { headers: { authorization: "Bearer theirs" } }),
    "Bearer theirs",
  );
});

Deno.test("a token that could inject a header line or a second credential is refused at creation", async () => {
  const f = await fixtures();
  for (const bad of ["a\r\nX-Evil: 1", "a b", "", "  "]) {
    assert.throws(() => createMtlsFetch({ ...f.client, ca: f.ca, token: bad }), {
      code: "invalid_config",
    });
  }
  assert.throws(() => staticToken("a b"), {
    code: "invalid_config",
    message:
      'Bearer token from option "token" is not a valid token (RFC 6750 b64token: letters, digits, "-._~+/", then "=")',
  });
  assert.throws(() => staticToken(" \n"), {
    code: "invalid_config",
    message: 'Bearer token from option "token" is empty',
  });
});

Deno.test("token and oauth together are refused", async () => {
  const f = await fixtures();
  assert.throws(
    () =>
      createMtlsFetch({
        ...f.client,
        ca: f.ca,
        token: "a",
        oauth: { issuer: "https://127.0.0.1:1", clientId: "x" },
      }),
    { code: "invalid_config", message: 'Options "token" and "oauth" cannot be used together' },
  );
});

Deno.test("tokenFromFile() reads the file for every request, so a renewed token is used at once", async () => {
  const f = await fixtures();
  const path = `${dir}/renewed`;
  await Deno.writeTextFile(path, "first\n");
  await withEcho(async (url) => {
    const fetch = createMtlsFetch({ ...f.client, ca: f.ca, token: tokenFromFile(path) });
    try {
      assert.equal(await (await fetch(url)).text(), "Bearer first");
      await Deno.writeTextFile(path, "second");
      assert.equal(await (await fetch(url)).text(), "Bearer second");
    } finally {
      await fetch.close();
    }
  });
});

Deno.test("tokenFromFile(): a missing, empty or malformed file fails the request with a typed error, not a request without a token", async () => {
  const f = await fixtures();
  const missing = `${dir}/missing`;
  const empty = `${dir}/empty`;
  const bad = `${dir}/bad`;
  await Deno.writeTextFile(empty, "\n");
  await Deno.writeTextFile(bad, "two words");
  await withEcho(async (url) => {
    const cases: [string, string, string][] = [
      [missing, "file_not_found", `Cannot read token file "${missing}": no such file`],
      [empty, "token_unavailable", `Bearer token from file "${empty}" is empty`],
      [
        bad,
        "token_unavailable",
        `Bearer token from file "${bad}" is not a valid token (RFC 6750 b64token: letters, digits, "-._~+/", then "=")`,
      ],
    ];
    for (const [path, code, message] of cases) {
      const fetch = createMtlsFetch({ ...f.client, ca: f.ca, token: tokenFromFile(path) });
      try {
        await assert.rejects(fetch(url), (e: unknown) => {
          assert.ok(e instanceof MtlsError, String(e));
          assert.equal(e.code, code);
          assert.equal(e.message, message);
          return true;
        });
      } finally {
        await fetch.close();
      }
    }
  });
});

Deno.test("a 401 invalid_token challenge makes the token source forget its token", async () => {
  const f = await fixtures();
  let invalidated = 0;
  const source: TokenSource = {
    token: () => Promise.resolve("t"),
    invalidate: () => void invalidated++,
  };
  const server = await startServer({ ...f.server, ca: f.ca }, (_req, res) => {
    res.writeHead(401, { "www-authenticate": 'Bearer error="invalid_token"' });
    res.end();
  });
  const fetch = createMtlsFetch({ ...f.client, ca: f.ca, token: source });
  try {
    const res = await fetch(server.url);
    assert.equal(res.status, 401);
    assert.equal(invalidated, 1);
  } finally {
    await fetch.close();
    await server.close();
  }
});

import assert from "node:assert/strict";
import { createMtlsFetch } from "../../src/mcp/mod.ts";
import { isMtlsError } from "../../src/errors.ts";
import { fixtures, startServer } from "./_helpers.ts";

Deno.test("createMtlsFetch() does not follow a redirect to another host, and says so", async () => {
  const f = await fixtures();
  // The place the redirect points to: a server our client would also trust.
  const elsewhere = await startServer({ ...f.server, ca: f.ca });
  const redirecting = await startServer({ ...f.server, ca: f.ca }, (_req, res) => {
    res.writeHead(307, { location: `${elsewhere.url}stolen` });
    res.end();
  });
  const fetch = createMtlsFetch({ ...f.client, ca: f.ca });
  try {
    await assert.rejects(
      fetch(redirecting.url, { method: "POST", body: '{"jsonrpc":"2.0","id":1}' }),
      (e: unknown) => {
        assert.ok(isMtlsError(e, "connection_failed"), `expected connection_failed, got ${e}`);
        assert.equal(
          (e as Error).message,
          `Server "${redirecting.url}" redirected (HTTP 307) to "${elsewhere.url}stolen": redirects are not followed; use the final URL`,
        );
        return true;
      },
    );
    assert.equal(redirecting.requests, 1);
    assert.equal(elsewhere.requests, 0, "the request body never reached the other host");
  } finally {
    await fetch.close();
    await redirecting.close();
    await elsewhere.close();
  }
});

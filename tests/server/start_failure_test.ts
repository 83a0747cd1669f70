/**
 * A server that cannot start leaves nothing running: the session store's idle
 * sweep, the listener and the admission timers stop with the failure, so a
 * process whose port is taken exits instead of hanging. Deno's op and
 * resource sanitizers (on by default) fail these tests if anything leaks.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { isMtlsError } from "../../src/errors.ts";
import { makeFixtures, startServer } from "./_fixtures.ts";

const fx = await makeFixtures();

async function takenPort(): Promise<{ port: number; close(): Promise<void> }> {
  const holder = net.createServer();
  await new Promise<void>((ok) => holder.listen(0, "127.0.0.1", ok));
  const port = (holder.address() as net.AddressInfo).port;
  return { port, close: () => new Promise((ok) => holder.close(() => ok())) };
}

for (const sessions of ["stateful", "stateless"] as const) {
  Deno.test(`serveMcp() on a port in use rejects and leaves nothing running (${sessions})`, async () => {
    const taken = await takenPort();
    try {
      await assert.rejects(
        startServer(fx, { hostname: "127.0.0.1", port: taken.port, sessions }),
        (e: unknown) => {
          assert.match(String((e as Error).message), /EADDRINUSE|in use/);
          return true;
        },
      );
    } finally {
      await taken.close();
    }
  });
}

Deno.test("serveMcp() whose health port is taken rejects and leaves nothing running", async () => {
  const taken = await takenPort();
  try {
    await assert.rejects(
      startServer(fx, {
        hostname: "127.0.0.1",
        health: { port: taken.port, hostname: "127.0.0.1" },
      }),
      (e: unknown) => {
        assert.ok(isMtlsError(e) || e instanceof Error);
        assert.match(String((e as Error).message), /EADDRINUSE|in use/);
        return true;
      },
    );
  } finally {
    await taken.close();
  }
});

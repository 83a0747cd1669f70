/**
 * The Host check remembers the Host values it accepted (a keep-alive client
 * sends the same one on every request): what it refuses must not change.
 */
import assert from "node:assert/strict";
import { compileHostCheck } from "../../src/mcp/host_check.ts";
import { makeFixtures } from "./_fixtures.ts";

const fx = await makeFixtures();

Deno.test("compileHostCheck() refuses a foreign Host after accepting the server's own many times", () => {
  const check = compileHostCheck({ hostname: "127.0.0.1", port: () => 8443, cert: fx.server.cert });
  for (let i = 0; i < 3; i++) assert.equal(check.check(["Host", "localhost:8443"]), undefined);
  assert.equal(
    check.check(["Host", "evil.example:8443"])?.message,
    'Host header "evil.example:8443" is not allowed: not one of this server\'s names on port 8443 (see allowedHosts)',
  );
  // A remembered value is still refused when sent twice, or with a foreign Origin.
  assert.equal(
    check.check(["Host", "localhost:8443", "Host", "localhost:8443"])?.message,
    "Host header appears 2 times: expected one",
  );
  assert.equal(
    check.check(["Host", "localhost:8443", "Origin", "https://evil.example"])?.message,
    'Origin header "https://evil.example" is not allowed: not this server\'s origin nor one of allowedOrigins',
  );
});

Deno.test("compileHostCheck() forgets accepted Hosts when the listen port changes", () => {
  let port = 8443;
  const check = compileHostCheck({ hostname: "127.0.0.1", port: () => port, cert: fx.server.cert });
  assert.equal(check.check(["Host", "localhost:8443"]), undefined);
  port = 9443;
  assert.equal(
    check.check(["Host", "localhost:8443"])?.message,
    'Host header "localhost:8443" is not allowed: not one of this server\'s names on port 9443 (see allowedHosts)',
  );
  assert.equal(check.check(["Host", "localhost:9443"]), undefined);
});

Deno.test("compileHostCheck() still decides once its memory is full (case variants of one name)", () => {
  const check = compileHostCheck({ hostname: "127.0.0.1", port: () => 8443, cert: fx.server.cert });
  const name = "localhost";
  for (let m = 0; m < 64; m++) {
    const variant = [...name].map((c, i) => (m >> i) & 1 ? c.toUpperCase() : c).join("");
    assert.equal(check.check(["Host", `${variant}:8443`]), undefined);
  }
  assert.match(check.check(["Host", "LOCALHOST.evil:8443"])!.message, /is not allowed/);
  assert.match(check.check(["Host", "localhost:8444"])!.message, /is not allowed/);
});

import assert from "node:assert/strict";
import { isMtlsError } from "../../src/errors.ts";
import { parseSubjectAltNames } from "../../src/pki/mod.ts";

Deno.test("parseSubjectAltNames() reads every kind and canonicalizes IPv6", () => {
  assert.deepEqual(
    parseSubjectAltNames(
      "dns:LocalHost, ip:127.0.0.1,ip:::1,ip:2001:DB8:0:0::1,uri:spiffe://example.org/ns/agent,email:ops@example.com,dns:*.example.com",
    ),
    [
      { type: "dns", value: "localhost" },
      { type: "ip", value: "127.0.0.1" },
      { type: "ip", value: "::1" },
      { type: "ip", value: "2001:db8::1" },
      { type: "uri", value: "spiffe://example.org/ns/agent" },
      { type: "email", value: "ops@example.com" },
      { type: "dns", value: "*.example.com" },
    ],
  );
  assert.deepEqual(parseSubjectAltNames(""), []);
});

const BAD: [string, string][] = [
  ["foo:bar", 'Invalid SAN "foo:bar": expected dns:, ip:, uri: or email:'],
  ["localhost", 'Invalid SAN "localhost": expected dns:, ip:, uri: or email:'],
  ["dns:-bad.example", 'Invalid SAN "dns:-bad.example": not a valid DNS name'],
  ["dns:a b", 'Invalid SAN "dns:a b": not a valid DNS name'],
  ["dns:", 'Invalid SAN "dns:": not a valid DNS name'],
  ["ip:999.1.1.1", 'Invalid SAN "ip:999.1.1.1": not an IPv4 or IPv6 address'],
  ["ip:1::2::3", 'Invalid SAN "ip:1::2::3": not an IPv4 or IPv6 address'],
  ["ip:localhost", 'Invalid SAN "ip:localhost": not an IPv4 or IPv6 address'],
  ["uri:not a uri", 'Invalid SAN "uri:not a uri": not an absolute URI'],
  ["email:nobody", 'Invalid SAN "email:nobody": not an email address'],
];

for (const [spec, message] of BAD) {
  Deno.test(`parseSubjectAltNames() rejects "${spec}" with invalid_argument`, () => {
    assert.throws(
      () => parseSubjectAltNames(`dns:ok.example,${spec}`),
      (e) => isMtlsError(e, "invalid_argument") && e.message === message,
    );
  });
}

Deno.test("parseSubjectAltNames() rejects an empty entry between commas", () => {
  assert.throws(
    () => parseSubjectAltNames("dns:a,,dns:b"),
    (e) =>
      isMtlsError(e, "invalid_argument") &&
      e.message === 'Invalid SAN "": expected dns:, ip:, uri: or email:',
  );
});

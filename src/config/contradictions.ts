/**
 * Combinations of keys that are each valid but contradict one another,
 * refused at start with one line naming the key, its value and what is
 * expected.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { type ConfigSources, sourceSuffix } from "./sources.ts";
import type { ServeConfig } from "./types.ts";

function show(v: unknown): string {
  if (v === undefined) return "missing";
  const s = JSON.stringify(v);
  return s.length > 200 ? s.slice(0, 197) + "..." : s;
}

/** Throws a {@link ConfigError} for the first contradiction in `c`. */
export function checkContradictions(c: ServeConfig, sources: ConfigSources): void {
  const fail = (key: string, value: unknown, expected: string, ...alsoFrom: string[]): never => {
    throw new ConfigError(
      `Config key "${key}" is ${show(value)}: expected ${expected}${
        sourceSuffix(sources, key, ...alsoFrom)
      }`,
      { key },
    );
  };
  const { tls } = c;
  const none = tls.clientAuth === "none";
  if (!tls.enabled) {
    fail(
      "tls.enabled",
      false,
      "true (plain HTTP is not supported: mcp-mtls serves MCP only over TLS)",
    );
  }
  if (tls.pfx !== undefined && (tls.cert !== undefined || tls.key !== undefined)) {
    fail("tls.pfx", tls.pfx, 'either "tls.pfx" or "tls.cert" + "tls.key", not both', "tls.cert");
  }
  if (tls.pfx === undefined && c.certs === undefined) {
    if (tls.cert === undefined) {
      fail("tls.cert", undefined, 'a PEM file or PEM text (or "tls.pfx", or "certs")');
    }
    if (tls.key === undefined) fail("tls.key", undefined, 'a PEM file or PEM text (or "tls.pfx")');
  }
  if (tls.passphraseEnv !== undefined && tls.passphraseFile !== undefined) {
    fail(
      "tls.passphraseFile",
      tls.passphraseFile,
      'only one of "tls.passphraseEnv" and "tls.passphraseFile"',
    );
  }
  if (!none && c.policy === "strict" && !tls.ca?.length && c.certs === undefined) {
    fail(
      "tls.ca",
      undefined,
      `a CA file or PEM to verify client certificates, as "tls.clientAuth" is "${tls.clientAuth}" with the strict policy`,
      "tls.clientAuth",
    );
  }
  if (none && c.policy !== "strict") {
    fail(
      "policy",
      c.policy,
      '"strict" when "tls.clientAuth" is "none" (no client certificate is requested)',
      "tls.clientAuth",
    );
  }
  if (none && c.pins !== undefined) {
    fail(
      "pins",
      c.pins,
      'no pins when "tls.clientAuth" is "none" (no client certificate is requested to pin)',
      "tls.clientAuth",
    );
  }
  if (none && c.revocation !== undefined) {
    fail(
      "revocation",
      c.revocation,
      'no revocation checking when "tls.clientAuth" is "none" (no client certificate to check)',
      "tls.clientAuth",
    );
  }
  if (none && c.authorization?.rules.some((r) => r.identity !== "*")) {
    fail(
      "authorization.rules",
      c.authorization.rules,
      'only identity "*" when "tls.clientAuth" is "none" (no client has an identity)',
      "tls.clientAuth",
    );
  }
  checkPins(c, fail);
  if (c.stdio?.mode === "per-session" && c.sessions === "stateless") {
    fail(
      "stdio.mode",
      "per-session",
      '"shared" when "sessions" is "stateless" (per-session would start a child per request)',
      "sessions",
    );
  }
  if (c.stdio !== undefined && c.jsonResponse) {
    fail(
      "jsonResponse",
      true,
      'false when "stdio" is set (the SDK would drop the progress, log, sampling and elicitation messages the child sends during a call)',
      "stdio",
    );
  }
  if (c.upstream !== undefined && c.stdio !== undefined) {
    fail("upstream", c.upstream.url, 'either "upstream" or "stdio", not both', "stdio");
  }
  if (c.upstream !== undefined && (c.jsonResponse || c.sessions === "stateless")) {
    const key = c.jsonResponse ? "jsonResponse" : "sessions";
    fail(
      key,
      c[key],
      `its default when "upstream" is set (the upstream MCP server decides it)`,
      "upstream",
    );
  }
  if (c.health !== undefined && c.health.port !== 0 && c.health.port === c.port) {
    fail("health.port", c.health.port, `a port other than "port" (${c.port})`, "port");
  }
  const perAddress = c.limits.maxConnectionsPerAddress;
  if (perAddress !== undefined && perAddress > c.limits.maxConnections) {
    fail(
      "limits.maxConnectionsPerAddress",
      perAddress,
      `at most "limits.maxConnections" (${c.limits.maxConnections})`,
    );
  }
}

function checkPins(
  c: ServeConfig,
  fail: (key: string, value: unknown, expected: string, ...also: string[]) => never,
): void {
  const { pins } = c;
  if (pins === undefined) return;
  if (pins.allow === undefined && pins.store === undefined) {
    fail("pins", pins, '"pins.allow" or "pins.store"');
  }
  if (pins.allow !== undefined && pins.allow.length === 0) {
    fail("pins.allow", pins.allow, "at least one pin");
  }
  for (const k of ["tofu", "unknown"] as const) {
    if (pins[k] !== undefined && pins.store === undefined) {
      fail(`pins.${k}`, pins[k], `"pins.store" (a pin file) to go with it`);
    }
  }
}

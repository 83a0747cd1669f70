/**
 * What `serveMcp` checks and compiles before anything starts: the runtime,
 * the options (defaults and contradictions), the TLS settings, the chain
 * policy and the tool authorization. Settings weaker than the defaults are
 * logged at warn as they take effect.
 *
 * @module
 */

import { ConfigError } from "../errors.ts";
import { type Authorizer, compileAuthorization } from "../policy/authorization.ts";
import { type CompiledPolicy, compilePolicy } from "../policy/policy.ts";
import { assertSupportedRuntime } from "../tls/runtime_check.ts";
import { type ResolvedTlsServerOptions, resolveTlsServerOptions } from "../tls/server/options.ts";
import { STDIO_BRIDGE } from "./bridge_session.ts";
import {
  type McpServerFactory,
  type ResolvedServeOptions,
  resolveServeOptions,
  type ServeMcpOptions,
} from "./server_options.ts";
import type { TlsValidationContext } from "./server_reload.ts";

/**
 * Everything {@link setUpServer} resolved and compiled.
 *
 * @example
 * ```ts ignore
 * const { o, tls, policy, authorize } = setUpServer(factory, options);
 * ```
 */
export interface ServerSetup {
  /** The options after defaults and validation. */
  o: ResolvedServeOptions;
  /** The validated TLS settings. */
  tls: ResolvedTlsServerOptions;
  /** What the chain policy is compiled with (again on each TLS reload). */
  policyContext: TlsValidationContext;
  /** The compiled chain policy. */
  policy: CompiledPolicy;
  /** The compiled tool authorization. */
  authorize: Authorizer;
}

/**
 * Checks the runtime and the options and compiles the policy and the
 * authorization. Throws `RuntimeError` on Deno older than 2.9 and
 * `ConfigError` (naming the key) on contradictory options, among them
 * `jsonResponse: true` with a stdio bridge factory.
 *
 * @example
 * ```ts ignore
 * const setup = setUpServer(factory, { tls: { cert, key, ca }, port: 0 });
 * console.log(setup.policy.name); // "strict"
 * ```
 */
export function setUpServer(factory: McpServerFactory, options: ServeMcpOptions): ServerSetup {
  assertSupportedRuntime();
  const o = resolveServeOptions(options);
  if (o.jsonResponse && (factory as { [STDIO_BRIDGE]?: boolean })[STDIO_BRIDGE]) {
    throw new ConfigError(
      'Option "jsonResponse" cannot be true with a stdio bridge: the SDK would drop the notifications and requests (progress, logs, sampling, elicitation) the child sends during a call',
      { key: "jsonResponse" },
    );
  }
  const tls = resolveTlsServerOptions(options.tls);
  const policyContext = {
    policy: options.policy ?? "strict",
    maxChainDepth: options.maxChainDepth,
    now: options.now,
  };
  const policy = compilePolicy(policyContext.policy, { ca: tls.ca, ...policyContext });
  const authorize = compileAuthorization(options.authorization);
  warnWeakerSettings(o, tls, policy);
  return { o, tls, policyContext, policy, authorize };
}

/** A weaker-than-default setting logs every time it takes effect: here, at start. */
function warnWeakerSettings(
  o: ResolvedServeOptions,
  tls: ResolvedTlsServerOptions,
  policy: CompiledPolicy,
): void {
  const { logger } = o;
  if (policy.acceptsUntrusted) {
    logger.warn(
      "DEMO POLICY IN EFFECT: self-signed and unknown-CA client certificates are ACCEPTED. Never use this in production.",
      { policy: "demo" },
    );
  }
  if (tls.clientAuth !== "require") {
    logger.warn(
      `Client authentication is "${tls.clientAuth}": clients without a certificate are admitted`,
      {
        clientAuth: tls.clientAuth,
      },
    );
  }
}

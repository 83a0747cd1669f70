/**
 * The server's DNS-rebinding protection (host_check.ts) over its life: the
 * hosts are compiled from the served certificate at start and again when a
 * reload brings a new one (which may name new hosts, or drop some), and the
 * port is the bound one once listening.
 *
 * @module
 */

import type { HostRefusal } from "./host_check.ts";
import { compileHostCheck } from "./host_check.ts";
import type { ResolvedServeOptions } from "./server_options.ts";

/**
 * The current host check of a running server.
 *
 * @example
 * ```ts ignore
 * const hosts = createHostGuard(o, options.tls.cert);
 * const refusal = hosts.check(req.rawHeaders);
 * ```
 */
export interface HostGuard {
  /** Checks a request's raw header list against the current hosts and origins. */
  check(rawHeaders: readonly string[]): HostRefusal | undefined;
  /** Hosts accepted now, as `name:port`. */
  readonly hosts: readonly string[];
  /** The port the server is bound to (it was 0 in the options when picked by the system). */
  bound(port: number): void;
  /** Compiles the hosts again from a newly served certificate chain (PEM). */
  reload(cert: string): void;
}

/**
 * Compiles the host check from the options and the served certificate chain
 * (PEM), logging its warnings at warn.
 *
 * @example
 * ```ts ignore
 * const hosts = createHostGuard(o, options.tls.cert);
 * hosts.bound(listener.address.port);
 * ```
 */
export function createHostGuard(o: ResolvedServeOptions, cert: string): HostGuard {
  let listenPort = o.port;
  const compile = (cert: string) => {
    const { hostname, allowedHosts, allowedOrigins, logger } = o;
    const check = compileHostCheck({
      hostname,
      port: () => listenPort,
      cert,
      allowedHosts,
      allowedOrigins,
    });
    for (const warning of check.warnings) logger.warn(warning, { allowedHosts, allowedOrigins });
    return check;
  };
  let current = compile(cert);
  return {
    check: (rawHeaders) => current.check(rawHeaders),
    get hosts() {
      return current.hosts;
    },
    bound(port) {
      listenPort = port;
    },
    reload(cert) {
      current = compile(cert);
    },
  };
}

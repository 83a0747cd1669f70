/**
 * The `upstream` key of a config file as {@link UpstreamOptions}: `ca`,
 * `cert` and `key` read from their files (or taken as PEM text), the same
 * way as `tls.*`.
 *
 * @module
 */

import { pemOrFile } from "../config/serve_options.ts";
import type { UpstreamConfig } from "../config/types.ts";
import type { UpstreamOptions } from "./upstream_options.ts";

/**
 * Reads the files an `upstream` config names.
 *
 * @throws {ConfigError} naming `upstream.ca.N`, `upstream.cert` or `upstream.key` for a file that cannot be read
 *
 * @example
 * ```ts
 * import { upstreamFromConfig } from "./from_config.ts";
 * const o = await upstreamFromConfig({ url: "http://127.0.0.1:3000/mcp" });
 * console.log(o.url); // http://127.0.0.1:3000/mcp
 * ```
 */
export async function upstreamFromConfig(config: UpstreamConfig): Promise<UpstreamOptions> {
  const { ca, cert, key, ...rest } = config;
  return {
    ...rest,
    ...(ca ? { ca: await Promise.all(ca.map((c, i) => pemOrFile(`upstream.ca.${i}`, c))) } : {}),
    ...(cert === undefined ? {} : { cert: await pemOrFile("upstream.cert", cert) }),
    ...(key === undefined ? {} : { key: await pemOrFile("upstream.key", key) }),
  };
}

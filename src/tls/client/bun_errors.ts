/**
 * What Bun's fetch raises when a TLS connection fails, as typed errors.
 *
 * Shapes seen on Bun 1.4.4 (`fetch` with a `tls` option, BoringSSL
 * underneath): a `TypeError` carrying a Node-style `code`, or the very Error
 * our `checkServerIdentity` returned.
 *
 * | situation | `code` (message) |
 * | --- | --- |
 * | server from an unknown CA, self-signed | `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `DEPTH_ZERO_SELF_SIGNED_CERT` |
 * | expired, not yet valid, no serverAuth EKU | `CERT_HAS_EXPIRED`, `CERT_NOT_YET_VALID`, `INVALID_PURPOSE` |
 * | host name mismatch (Bun's own check, replaced by ours) | `ERR_TLS_CERT_ALTNAME_INVALID` |
 * | the server refuses our certificate or wants one (any alert), no common TLS version, plain HTTP | `EPROTO` ("The TLS handshake failed") or `ECONNRESET`: the alert is not reported |
 * | connection refused, unknown host | `ECONNREFUSED`, `ENOTFOUND` |
 *
 * A reset or `EPROTO` is therefore diagnosed by a handshake of our own on
 * `node:tls`, which Bun implements with the alerts named (see `diagnoseReset`).
 *
 * @module
 */
import { MtlsError } from "../../errors.ts";
import { codeOf, handshakeVerdict } from "./errors.ts";
import type { ResolvedClientOptions } from "./options.ts";
import { diagnoseHandshake, diagnoseReset, type ProbeTarget } from "./probe.ts";

/**
 * The typed error for what Bun's fetch raised on a request to `url` at
 * target `t`. Errors without a code (bad arguments, an abort) are returned
 * unchanged.
 */
export async function explainBunFetchError(
  error: unknown,
  t: ProbeTarget,
  o: ResolvedClientOptions,
  url: string,
): Promise<unknown> {
  if (error instanceof MtlsError) return error; // our checkServerIdentity's own refusal
  const code = codeOf(error);
  if (code === undefined) return error;
  const failed = () =>
    new MtlsError(
      "connection_failed",
      `Request to "${url}" failed: ${(error as Error).message}`,
      { cause: error },
    );
  if (code === "ECONNRESET" || code === "EPROTO") {
    return await diagnoseReset(error, t, o) ?? failed();
  }
  const v = handshakeVerdict(error, t.ctx);
  if (v.kind !== "error") return await diagnoseHandshake(v.kind, error, t, o);
  // Not a code of the TLS stack: a plain network failure of the request.
  if (v.error.code === "handshake_failed" && !/SSL|TLS|CERT/.test(code)) return failed();
  return v.error;
}

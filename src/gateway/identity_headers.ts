/**
 * How the gateway tells an HTTP upstream who the caller is, in headers (the
 * `_meta` copy is the stdio bridge's, `../mcp/bridge_identity.ts`):
 *
 * - `Client-Cert` (RFC 9440): the caller's certificate, DER, as a structured
 *   field byte sequence `:BASE64:`, the way nginx- and Envoy-style proxies
 *   forward it.
 * - `Client-Cert-Chain` (RFC 9440): the chain above it as the TLS stack
 *   linked it (the intermediates, and the trust anchor where the stack adds
 *   it, as RFC 9440 allows), each a byte sequence, comma-separated.
 * - `Mcp-Mtls-Identity`: the identity label (the SPIFFE ID, else `cn:NAME`,
 *   else `sha256:FINGERPRINT`), with anything outside printable ASCII, and
 *   `%` and spaces, percent-encoded as UTF-8.
 *
 * Anonymous callers (client auth `optional`) get none of them. Whatever a
 * client sent under these names, or under the names other proxies use for
 * the same purpose ({@link GATEWAY_HEADERS}), is removed before the request
 * leaves, so an upstream that receives these headers only from the gateway
 * (loopback, a private socket, or mutual TLS with the gateway) can trust
 * them.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { TLSSocket } from "node:tls";
import { identityLabel, type PeerIdentity } from "../policy/identity.ts";
import { peerLeaf, presentedIntermediates } from "../tls/server/admit.ts";

/** RFC 9440 header with the caller's certificate. */
export const CLIENT_CERT_HEADER = "client-cert";
/** RFC 9440 header with the chain above the caller's certificate. */
export const CLIENT_CERT_CHAIN_HEADER = "client-cert-chain";
/** The gateway's compact identity header: the identity label. */
export const IDENTITY_HEADER = "mcp-mtls-identity";

/**
 * Header names (lower case) a client may never send to the upstream: the
 * gateway's own, and those other TLS-terminating proxies use to forward a
 * client certificate, which an upstream might also trust.
 *
 * @example
 * ```ts
 * import { GATEWAY_HEADERS } from "./identity_headers.ts";
 * GATEWAY_HEADERS.includes("client-cert"); // true
 * ```
 */
export const GATEWAY_HEADERS: readonly string[] = [
  CLIENT_CERT_HEADER,
  CLIENT_CERT_CHAIN_HEADER,
  IDENTITY_HEADER,
  "x-forwarded-client-cert",
  "x-ssl-client-cert",
  "ssl-client-cert",
  "x-client-cert",
];

/**
 * An RFC 8941 byte sequence: `:BASE64:`.
 *
 * @example
 * ```ts
 * import { byteSequence } from "./identity_headers.ts";
 * byteSequence(new Uint8Array([1, 2, 3])); // ":AQID:"
 * ```
 */
export function byteSequence(bytes: Uint8Array): string {
  return `:${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")}:`;
}

/**
 * The identity label as a header value: printable ASCII but `%` and space
 * kept, the rest percent-encoded (UTF-8).
 *
 * @example
 * ```ts
 * import { headerSafe } from "./identity_headers.ts";
 * headerSafe("cn:Zoë Smith"); // "cn:Zo%C3%AB%20Smith"
 * ```
 */
export function headerSafe(label: string): string {
  return label.replace(/[^\x21-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
}

const CACHE = new WeakMap<TLSSocket, Record<string, string>>();
const NONE: Record<string, string> = Object.freeze({});

/**
 * The identity headers for a caller on `socket`, computed once per
 * connection (reading the presented intermediates costs about 0.14 ms).
 *
 * @example
 * ```ts ignore
 * const headers = identityHeaders(req.socket as TLSSocket, state.identity);
 * ```
 */
export function identityHeaders(
  socket: TLSSocket,
  identity: PeerIdentity | undefined,
): Record<string, string> {
  if (!identity) return NONE;
  let headers = CACHE.get(socket);
  if (headers) return headers;
  headers = { [IDENTITY_HEADER]: headerSafe(identityLabel(identity)) };
  const leaf = peerLeaf(socket);
  if (leaf) {
    headers[CLIENT_CERT_HEADER] = byteSequence(leaf.der);
    const chain = presentedIntermediates(socket, leaf);
    if (chain.length > 0) {
      headers[CLIENT_CERT_CHAIN_HEADER] = chain.map((c) => byteSequence(c.der))
        .join(", ");
    }
  }
  CACHE.set(socket, headers);
  return headers;
}

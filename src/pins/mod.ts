/**
 * Certificate pinning: SPKI SHA-256 pins (`sha256/<base64>`, the value
 * `certs pin` prints) and certificate SHA-256 pins (`cert-sha256/<hex>`),
 * matched in constant time, synchronously, inside the TLS handshake; a pin
 * store per name (in memory or `certs/pins.json`) with backup pins for
 * rotation and trust on first use as an explicit mode.
 *
 * The handshake-path functions ({@link computePins}, the matcher returned by
 * {@link compilePinSet}, {@link PinStore.check}) are synchronous and do no I/O:
 * call them from `checkServerIdentity` on a client (return the refusal to fail
 * the handshake before any request is sent), and from the `secureConnection`
 * handler on a server.
 *
 * @example Pinning a server, refusing another key, showing both pins
 * ```ts
 * import "reflect-metadata";
 * import { X509CertificateGenerator } from "@peculiar/x509";
 * import { computePins, PinStore } from "@mtls/mcp/pins";
 *
 * const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
 * const selfSigned = async () => {
 *   const keys = await crypto.subtle.generateKey(alg, false, ["sign", "verify"]) as CryptoKeyPair;
 *   const cert = await X509CertificateGenerator.createSelfSigned({ name: "CN=server", keys, signingAlgorithm: alg });
 *   return new Uint8Array(cert.rawData);
 * };
 * const [first, other] = [await selfSigned(), await selfSigned()];
 *
 * const store = PinStore.memory({}, { tofu: true });
 * console.log(store.check("127.0.0.1:8443", first)); // undefined: pinned on first use
 * console.log(store.get("127.0.0.1:8443")?.pins[0] === computePins(first).spki); // true
 * console.log(store.check("127.0.0.1:8443", other)?.message);
 * // Pin mismatch for "127.0.0.1:8443": presented sha256/... (certificate cert-sha256/...), expected sha256/...
 * ```
 *
 * @module
 */
export { normalizePin, parsePin } from "./pin.ts";
export type { Pin } from "./pin.ts";
export { computePins } from "./compute_pins.ts";
export type { CertificatePins } from "./compute_pins.ts";
export { compilePinSet, pinMismatchError } from "./pin_set.ts";
export type { PinMatcher } from "./pin_set.ts";
export { DEFAULT_PIN_FILE, PinStore } from "./pin_store.ts";
export type { PinCheckOptions, PinStoreOptions } from "./pin_store.ts";
export type { PinEntry } from "./pin_file.ts";

/**
 * A set of pins compiled once into a synchronous matcher, for use inside the
 * TLS handshake.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import { CertificateError, PeerRejectedError } from "../errors.ts";
import { certDigest, computePins, spkiDigest } from "./compute_pins.ts";
import { parsePin } from "./pin.ts";

/**
 * Whether a DER certificate matches a compiled pin set. Synchronous, never
 * throws (malformed DER does not match), does no I/O.
 *
 * @example
 * ```ts
 * import type { PinMatcher } from "@mtls/mcp/pins";
 * const allowNothing: PinMatcher = () => false;
 * ```
 */
export type PinMatcher = (der: Uint8Array) => boolean;

/**
 * Compiles pins (and backup pins, for rotation) into a {@link PinMatcher}.
 * Every pin is parsed and validated here, once; the matcher only hashes the
 * presented certificate (SPKI and/or whole certificate, as the pins need) and
 * compares in constant time against every pin, without stopping at the first
 * match. Backup pins admit exactly like primary pins: they are listed
 * separately so an operator can publish the next key before rotating to it.
 *
 * @param pins pins in any form {@link parsePin} accepts
 * @param backups additional pins for the next key
 * @returns the matcher
 * @throws {CertificateError} `invalid_argument` for an invalid pin or an empty set
 *
 * @example Client side: pin the server inside the handshake (node:tls / undici)
 * ```ts ignore
 * import tls from "node:tls";
 * import { compilePinSet, pinMismatchError } from "@mtls/mcp/pins";
 *
 * const pins = ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="];
 * const matches = compilePinSet(pins); // once, at start
 * const socket = tls.connect({
 *   host: "127.0.0.1", port: 8443, ca, cert, key,
 *   checkServerIdentity: (host, peer) =>
 *     tls.checkServerIdentity(host, peer) ??
 *       (matches(peer.raw) ? undefined : pinMismatchError(`${host}:8443`, peer.raw, pins)),
 * });
 * ```
 *
 * @example An allowlist
 * ```ts
 * import { compilePinSet } from "@mtls/mcp/pins";
 * const allowed = compilePinSet(
 *   ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],
 *   ["cert-sha256/" + "ab".repeat(32)],
 * );
 * console.log(allowed(new Uint8Array([0x30, 0x00]))); // false: not a certificate
 * ```
 */
export function compilePinSet(
  pins: readonly string[],
  backups: readonly string[] = [],
): PinMatcher {
  const parsed = [...pins, ...backups].map(parsePin);
  if (parsed.length === 0) {
    throw new CertificateError("invalid_argument", "A pin set needs at least one pin");
  }
  const spki = parsed.filter((p) => p.kind === "spki").map((p) => p.digest);
  const cert = parsed.filter((p) => p.kind === "cert").map((p) => p.digest);
  return (der: Uint8Array): boolean => {
    let matched = 0;
    try {
      if (spki.length > 0) {
        const d = spkiDigest(der);
        for (const pin of spki) matched |= timingSafeEqual(d, pin) ? 1 : 0;
      }
      if (cert.length > 0) {
        const d = certDigest(der);
        for (const pin of cert) matched |= timingSafeEqual(d, pin) ? 1 : 0;
      }
    } catch {
      return false; // malformed DER never matches; the caller reports pin_mismatch
    }
    return matched === 1;
  };
}

/**
 * The `pin_mismatch` refusal for a presented certificate, naming the peer, the
 * presented pins and the expected ones. Return it from `checkServerIdentity`
 * (which fails the handshake), or throw it.
 *
 * @param name what was pinned: `host:port` on a client, an identity on a server
 * @param der the presented certificate
 * @param expected the pins that would have been accepted
 * @param peer the peer address, when known
 * @returns the error (not thrown)
 *
 * @example
 * ```ts
 * import { pinMismatchError } from "@mtls/mcp/pins";
 * const err = pinMismatchError("example.com:443", new Uint8Array(), ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="]);
 * console.log(err.code); // "pin_mismatch"
 * ```
 */
export function pinMismatchError(
  name: string,
  der: Uint8Array,
  expected: readonly string[],
  peer?: string,
): PeerRejectedError {
  let presented: string;
  try {
    const p = computePins(der);
    presented = `${p.spki} (certificate ${p.cert})`;
  } catch {
    presented = "a malformed certificate";
  }
  const wanted = expected.length > 0 ? expected.join(" or ") : "no pins";
  return new PeerRejectedError(
    "pin_mismatch",
    `Pin mismatch for "${name}": presented ${presented}, expected ${wanted}`,
    { peer },
  );
}

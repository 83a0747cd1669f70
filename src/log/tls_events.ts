/**
 * What the server says about TLS: the fields of a detailed handshake line,
 * the certificates it tracks for expiry, and the expiry warnings. Only
 * subjects, fingerprints, dates and negotiated parameters are logged, never
 * key material or a certificate body.
 *
 * @module
 */

import type { Certificate } from "../cert/certificate.ts";
import type { LogFields, Logger } from "./logger.ts";
import type { TrackedCertificate } from "./metrics.ts";
import { unrefTimer } from "../runtime/timers.ts";

/**
 * A subject as the certificate model's `subject.text` gives it (one RDN per
 * line, control characters escaped), made single-line.
 *
 * @example Joining the attributes
 * ```ts
 * import { oneLineSubject } from "./tls_events.ts";
 * console.log(oneLineSubject("O=Example\nCN=alice")); // "O=Example, CN=alice"
 * ```
 */
export function oneLineSubject(subject: string): string {
  return subject.split("\n").filter(Boolean).join(", ");
}

/**
 * The SHA-256 fingerprint as logs and metrics have always printed it:
 * uppercase, colon-separated (`AB:CD:...`, as `openssl x509 -fingerprint`).
 */
function colonFingerprint(c: Certificate): string {
  return c.fingerprint.toUpperCase().match(/../g)!.join(":");
}

/**
 * The parts of a `node:tls` socket a handshake line reads.
 *
 * @example Using HandshakeSocket
 * ```ts ignore
 * const fields = handshakeFields(tlsSocket, chain, 4.2);
 * ```
 */
export interface HandshakeSocket {
  getProtocol(): string | null;
  getCipher(): { name: string } | undefined | null;
  servername?: string | false | null;
  alpnProtocol?: string | false | null;
}

/**
 * Fields of the detailed handshake line: protocol, cipher, SNI, ALPN, each
 * presented certificate's subject and SHA-256 fingerprint, and the duration
 * from TCP accept to handshake completion.
 *
 * @example Using handshakeFields
 * ```ts ignore
 * logger.info("TLS handshake", handshakeFields(socket, [leaf], 3.1));
 * ```
 */
export function handshakeFields(
  s: HandshakeSocket,
  chain: readonly Certificate[],
  durationMs: number | undefined,
): LogFields {
  return {
    protocol: s.getProtocol() ?? "unknown",
    cipher: s.getCipher()?.name ?? "unknown",
    sni: s.servername || null,
    alpn: s.alpnProtocol || null,
    peerChain: chain.map((c) => ({
      subject: oneLineSubject(c.subject.text),
      fingerprint: colonFingerprint(c),
    })),
    durationMs: durationMs === undefined ? null : Math.round(durationMs * 10) / 10,
  };
}

/**
 * The facts kept about served and trusted certificates (no bodies).
 *
 * @example Using trackCertificates
 * ```ts ignore
 * const tracked = trackCertificates(serverChain.slice(0, 1), caCerts);
 * ```
 */
export function trackCertificates(
  served: readonly Certificate[],
  cas: readonly Certificate[],
): TrackedCertificate[] {
  const one = (role: "server" | "ca", c: Certificate): TrackedCertificate => ({
    role,
    subject: oneLineSubject(c.subject.text),
    fingerprint: colonFingerprint(c),
    validTo: c.notAfter,
  });
  return [...served.map((c) => one("server", c)), ...cas.map((c) => one("ca", c))];
}

const DAY_MS = 86_400_000;

/**
 * Warns, once per certificate per call, about each tracked certificate that
 * expires within `days` (or has expired). Returns how many were found.
 *
 * @example A certificate with 10 days left
 * ```ts
 * import { warnExpiring } from "./tls_events.ts";
 * const now = new Date("2030-01-01T00:00:00Z");
 * const n = warnExpiring([{
 *   role: "server",
 *   subject: "CN=localhost",
 *   fingerprint: "AB",
 *   validTo: new Date("2030-01-11T00:00:00Z"),
 * }], 30, now, { debug() {}, info() {}, warn: (m) => console.log(m), error() {} });
 * console.log(n); // 1
 * ```
 */
export function warnExpiring(
  certs: readonly TrackedCertificate[],
  days: number,
  now: Date,
  logger: Logger,
): number {
  let found = 0;
  for (const c of certs) {
    const left = (c.validTo.getTime() - now.getTime()) / DAY_MS;
    if (left > days) continue;
    found++;
    const what = c.role === "server" ? "Served certificate" : "Trusted CA certificate";
    const fields = {
      role: c.role,
      subject: c.subject,
      fingerprint: c.fingerprint,
      notAfter: c.validTo.toISOString(),
      daysLeft: Math.floor(left),
    };
    if (left <= 0) logger.error(`${what} "${c.subject}" has EXPIRED`, fields);
    else {
      logger.warn(
        `${what} "${c.subject}" expires in ${Math.floor(left)} days (warning at ${days})`,
        fields,
      );
    }
  }
  return found;
}

/**
 * Checks expiry now and then every `intervalMs` (daily by default), without
 * keeping the process alive. Returns a stop function.
 *
 * @example Using scheduleExpiryWarnings
 * ```ts ignore
 * const stop = scheduleExpiryWarnings(() => metrics.certificates(), 30, now, logger);
 * stop();
 * ```
 */
export function scheduleExpiryWarnings(
  certs: () => readonly TrackedCertificate[],
  days: number,
  now: () => Date,
  logger: Logger,
  intervalMs: number = DAY_MS,
): () => void {
  warnExpiring(certs(), days, now(), logger);
  const timer = setInterval(() => warnExpiring(certs(), days, now(), logger), intervalMs);
  unrefTimer(timer);
  return () => clearInterval(timer);
}

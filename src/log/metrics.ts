/**
 * Server counters: handshakes and requests by outcome and reason code, open
 * connections and sessions, and seconds to expiry of the served certificates
 * and trusted CAs. Counting is a map increment on the connection path; the
 * snapshot and the Prometheus text are built only when asked for.
 *
 * @module
 */

/**
 * A certificate the server depends on and how long it has left.
 *
 * @example Using CertificateExpiry
 * ```ts
 * import type { CertificateExpiry } from "@mtls/mcp/log";
 * const e: CertificateExpiry = {
 *   role: "server",
 *   subject: "CN=localhost",
 *   fingerprint: "AB:CD",
 *   notAfter: "2027-01-01T00:00:00.000Z",
 *   secondsToExpiry: 3600,
 * };
 * ```
 */
export interface CertificateExpiry {
  /** `server` for the served chain's leaf, `ca` for a trusted client CA. */
  role: "server" | "ca";
  /** Subject distinguished name. */
  subject: string;
  /** SHA-256 fingerprint, colon-separated hex (as `X509Certificate.fingerprint256`). */
  fingerprint: string;
  /** End of validity, ISO 8601. */
  notAfter: string;
  /** Seconds until `notAfter` (negative once expired). */
  secondsToExpiry: number;
}

/**
 * Counts by outcome: `admitted`/`served` is a number, refusals are counted per reason code.
 *
 * @example Using MetricsSnapshot
 * ```ts
 * import type { MetricsSnapshot } from "@mtls/mcp/log";
 * const refusedUnknownCa = (m: MetricsSnapshot) => m.handshakes.refused.unknown_ca ?? 0;
 * ```
 */
export interface MetricsSnapshot {
  /** TLS connections: admitted, or refused per reason code (`unknown_ca`, `rate_limited`, `handshake_failed`, …). */
  handshakes: { admitted: number; refused: Record<string, number> };
  /** HTTP requests on admitted connections: answered below 400, refused per reason code, failed (5xx). */
  requests: { served: number; refused: Record<string, number>; failed: number };
  /** Open admitted TLS connections. */
  connections: number;
  /** Open stateful MCP sessions. */
  sessions: number;
  /** Served certificate(s) and trusted CAs with seconds to expiry, at snapshot time. */
  certificates: CertificateExpiry[];
  /** Successful and refused TLS material reloads. */
  reloads: { ok: number; failed: number };
}

/**
 * The certificate facts kept for expiry; no certificate body is kept.
 *
 * @example A tracked CA
 * ```ts
 * import type { TrackedCertificate } from "@mtls/mcp/log";
 * const t: TrackedCertificate = {
 *   role: "ca",
 *   subject: "CN=Root",
 *   fingerprint: "AB:CD",
 *   validTo: new Date("2030-01-01"),
 * };
 * ```
 */
export interface TrackedCertificate {
  /** `server` or `ca`. */
  role: "server" | "ca";
  /** Subject DN. */
  subject: string;
  /** SHA-256 fingerprint. */
  fingerprint: string;
  /** End of validity. */
  validTo: Date;
}

/**
 * The mutable counters a server updates.
 *
 * @example Using ServerMetrics
 * ```ts
 * import { createMetrics } from "@mtls/mcp/log";
 * const m = createMetrics({ sessions: () => 0 });
 * m.handshakeRefused("unknown_ca");
 * console.log(m.snapshot().handshakes.refused.unknown_ca); // 1
 * ```
 */
export interface ServerMetrics {
  /** One admitted connection (open until `connectionClosed`). */
  handshakeAdmitted(): void;
  /** One refused connection, by reason code. */
  handshakeRefused(reason: string): void;
  /** An admitted connection closed. */
  connectionClosed(): void;
  /** One request finished with an HTTP status, or was refused with a reason code. */
  request(status: number, reason?: string): void;
  /** One reload attempt. */
  reload(ok: boolean): void;
  /** Replaces the tracked certificates (at start and after a reload). */
  setCertificates(certs: readonly TrackedCertificate[]): void;
  /** The tracked certificates. */
  certificates(): readonly TrackedCertificate[];
  /** A copy of every counter now. */
  snapshot(): MetricsSnapshot;
}

/**
 * Makes the counters of one server.
 *
 * @example Counting and reading
 * ```ts
 * import { createMetrics } from "@mtls/mcp/log";
 * const m = createMetrics({ sessions: () => 2 });
 * m.handshakeAdmitted();
 * m.request(200);
 * m.request(403, "identity_denied");
 * console.log(m.snapshot().requests); // { served: 1, refused: { identity_denied: 1 }, failed: 0 }
 * ```
 */
export function createMetrics(
  o: { sessions: () => number; now?: () => Date },
): ServerMetrics {
  const now = o.now ?? (() => new Date());
  let admitted = 0;
  let open = 0;
  let served = 0;
  let failed = 0;
  const reloads = { ok: 0, failed: 0 };
  const refusedHandshakes = new Map<string, number>();
  const refusedRequests = new Map<string, number>();
  let tracked: readonly TrackedCertificate[] = [];
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  return {
    handshakeAdmitted() {
      admitted++;
      open++;
    },
    handshakeRefused: (reason) => void bump(refusedHandshakes, reason),
    connectionClosed() {
      if (open > 0) open--;
    },
    request(status, reason) {
      if (reason !== undefined) bump(refusedRequests, reason);
      else if (status >= 500) failed++;
      else if (status >= 400) bump(refusedRequests, `http_${status}`);
      else served++;
    },
    reload: (ok) => void (ok ? reloads.ok++ : reloads.failed++),
    setCertificates(certs) {
      tracked = [...certs];
    },
    certificates: () => tracked,
    snapshot() {
      const at = now().getTime();
      return {
        handshakes: { admitted, refused: Object.fromEntries(refusedHandshakes) },
        requests: { served, refused: Object.fromEntries(refusedRequests), failed },
        connections: open,
        sessions: o.sessions(),
        certificates: tracked.map((c) => ({
          role: c.role,
          subject: c.subject,
          fingerprint: c.fingerprint,
          notAfter: c.validTo.toISOString(),
          secondsToExpiry: Math.floor((c.validTo.getTime() - at) / 1000),
        })),
        reloads: { ...reloads },
      };
    },
  };
}

const escapeLabel = (v: string) =>
  v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");

/**
 * Renders a snapshot in the Prometheus text exposition format (version 0.0.4).
 *
 * @example Using prometheusText
 * ```ts
 * import { createMetrics, prometheusText } from "@mtls/mcp/log";
 * const text = prometheusText(createMetrics({ sessions: () => 0 }).snapshot());
 * console.log(text.includes("mcp_mtls_handshakes_total")); // true
 * ```
 */
export function prometheusText(m: MetricsSnapshot): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string) =>
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const sample = (name: string, labels: Record<string, string>, value: number) => {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
    out.push(`${name}${l ? `{${l}}` : ""} ${value}`);
  };
  family("mcp_mtls_handshakes_total", "counter", "TLS connections by outcome and reason code.");
  sample("mcp_mtls_handshakes_total", { outcome: "admitted" }, m.handshakes.admitted);
  for (const [reason, n] of Object.entries(m.handshakes.refused)) {
    sample("mcp_mtls_handshakes_total", { outcome: "refused", reason }, n);
  }
  family("mcp_mtls_requests_total", "counter", "HTTP requests by outcome and reason code.");
  sample("mcp_mtls_requests_total", { outcome: "served" }, m.requests.served);
  sample("mcp_mtls_requests_total", { outcome: "failed" }, m.requests.failed);
  for (const [reason, n] of Object.entries(m.requests.refused)) {
    sample("mcp_mtls_requests_total", { outcome: "refused", reason }, n);
  }
  family("mcp_mtls_connections", "gauge", "Open admitted TLS connections.");
  sample("mcp_mtls_connections", {}, m.connections);
  family("mcp_mtls_sessions", "gauge", "Open MCP sessions.");
  sample("mcp_mtls_sessions", {}, m.sessions);
  family("mcp_mtls_tls_reloads_total", "counter", "TLS material reloads by outcome.");
  sample("mcp_mtls_tls_reloads_total", { outcome: "ok" }, m.reloads.ok);
  sample("mcp_mtls_tls_reloads_total", { outcome: "failed" }, m.reloads.failed);
  family(
    "mcp_mtls_certificate_expiry_seconds",
    "gauge",
    "Seconds until a served certificate or trusted CA expires.",
  );
  for (const c of m.certificates) {
    sample("mcp_mtls_certificate_expiry_seconds", {
      role: c.role,
      subject: c.subject,
      fingerprint: c.fingerprint,
    }, c.secondsToExpiry);
  }
  return out.join("\n") + "\n";
}

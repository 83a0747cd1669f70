/**
 * The client-certificate checks of a diagnosis, judged from the probes:
 * whether the server asks for (and requires) a client certificate, and
 * whether it accepted ours. Pure: the probes come in as data.
 *
 * @module
 */
import { readCertificate } from "../cert/certificate.ts";
import { REASON_CODES, type ReasonCode } from "../errors.ts";
import { alertError, codeOf, type ErrorContext, silentRefusal } from "../tls/client/errors.ts";
import type { TlsProbe } from "./probe.ts";
import type { DiagnosisStep } from "./report.ts";
import type { Tls12Flight } from "./tls12.ts";

/**
 * What the client-certificate checks start from.
 *
 * @example
 * ```ts
 * import type { ClientCertEvidence } from "./client_cert.ts";
 * const e: ClientCertEvidence = {
 *   peer: "127.0.0.1:8443",
 *   anonymous: { handshake: true, outcome: "closed" },
 *   now: new Date(),
 * };
 * ```
 */
export interface ClientCertEvidence {
  /** `host:port`, for messages. */
  peer: string;
  /** The server's TLS 1.2 first flight, when it speaks TLS 1.2. */
  flight?: Tls12Flight;
  /** The probe without a client certificate. */
  anonymous: TlsProbe;
  /** The probe with our certificate (absent without `--cert`). */
  ours?: TlsProbe;
  /** Our certificate, PEM (absent without `--cert`). */
  cert?: string;
  /** The time to judge our certificate's validity at. */
  now: Date;
}

const FIXES: Partial<Record<ReasonCode, string>> = {
  no_client_cert: "pass your certificate and key with --cert and --key",
  unknown_ca: "have the server trust the CA that issued your certificate " +
    "(its client CA bundle), or use a certificate from the CA it trusts",
  expired: 'renew your client certificate (e.g. "mcp-mtls certs issue client NAME")',
  not_yet_valid: "check the clock of this machine and of the machine that issued your certificate",
  revoked: "your certificate is revoked: have a new one issued",
  bad_key_usage:
    'use a certificate issued for client authentication (e.g. "mcp-mtls certs issue client NAME")',
  identity_denied: "ask the server operator to allow your certificate's identity",
  protocol_version: "the server and this client share no TLS version; upgrade the older side",
};

const REQUIRE_FIX = "configure the server to request and require client certificates " +
  "(node:tls: requestCert: true; mcp-mtls serve does by default; openssl s_server: -Verify 1)";

/** Refusals of the bearer token (the `auth` option), not of the certificate. */
const TOKEN_REASONS: readonly string[] = [
  "token_missing",
  "invalid_token",
  "token_binding_mismatch",
  "token_unbound",
  "insufficient_scope",
];

/** `true`: the server refused the anonymous probe; `false`: it served it. */
function refusesAnonymous(p: TlsProbe): boolean {
  if (p.outcome === "answered") return p.status === 401 || p.status === 403;
  return p.outcome !== "silent";
}

function answered(p: TlsProbe): string {
  return p.status ? `answered HTTP ${p.status}` : "answered";
}

/**
 * Whether the server asks for, and insists on, a client certificate.
 *
 * @example A server that never asks
 * ```ts
 * import { requestStep } from "./client_cert.ts";
 * const step = requestStep({
 *   peer: "127.0.0.1:8443",
 *   flight: { answered: true, certificateRequest: false, chain: [] },
 *   anonymous: { handshake: true, outcome: "answered", status: 200 },
 *   now: new Date(),
 * });
 * console.log(step.code); // "no_client_cert"
 * ```
 */
export function requestStep(e: ClientCertEvidence): DiagnosisStep {
  const name = "Request";
  const refuses = refusesAnonymous(e.anonymous);
  if (e.flight?.answered && !e.flight.certificateRequest) {
    return {
      name,
      status: "fail",
      code: "no_client_cert",
      summary: "server did not ask for a client certificate (no CertificateRequest in its " +
        "handshake): mutual TLS is off and any client can connect",
      fix: REQUIRE_FIX,
    };
  }
  if (!refuses) {
    const how = e.flight?.certificateRequest
      ? "server asks for a client certificate but does not require one"
      : "server does not require a client certificate";
    return {
      name,
      status: e.flight?.certificateRequest ? "warn" : "fail",
      code: "no_client_cert",
      summary: `${how}: without one it ${
        e.anonymous.outcome === "silent" ? "kept the connection open" : answered(e.anonymous)
      }`,
      fix: REQUIRE_FIX,
    };
  }
  return {
    name,
    status: "pass",
    summary: e.flight?.certificateRequest
      ? "server asks for a client certificate and refuses connections without one"
      : "server refuses connections without a client certificate",
  };
}

function subject(pem: string | undefined): string {
  try {
    return pem ? readCertificate(pem).subject.text.replaceAll("\n", ", ") : "";
  } catch {
    return "";
  }
}

/** The JSON-RPC `error.data.reason` of a 401/403 body, when it is one of ours. */
function bodyReason(body = ""): { reason?: ReasonCode; message?: string } {
  try {
    const json = JSON.parse(body.trim().split("\n")[0]);
    const reason = json?.error?.data?.reason;
    return {
      reason: (REASON_CODES as readonly string[]).includes(reason) ? reason : undefined,
      message: typeof json?.error?.message === "string" ? json.error.message : undefined,
    };
  } catch {
    return {};
  }
}

function refusal(e: ClientCertEvidence, p: TlsProbe): { reason: ReasonCode; summary: string } {
  const ctx: ErrorContext = { peer: e.peer, hasCert: true, versions: "TLSv1.2-TLSv1.3" };
  if (p.outcome === "answered") {
    const { reason = "identity_denied", message } = bodyReason(p.body);
    return {
      reason,
      summary: `server refused the request with HTTP ${p.status}${message ? `: ${message}` : ""}`,
    };
  }
  const alert = p.error ? alertError(p.error, ctx) : undefined;
  if (alert) return { reason: alert.code as ReasonCode, summary: alert.message };
  const code = codeOf(p.error);
  let own: { validFrom?: Date; validTo?: Date } = {};
  try {
    const x = readCertificate(e.cert ?? "");
    own = { validFrom: x.notBefore, validTo: x.notAfter };
  } catch {
    // unreadable: the CLI checked it already
  }
  const silent = silentRefusal(ctx, own, p.error, e.now);
  return {
    reason: silent.code as ReasonCode,
    summary: silent.message + (code && code !== "ECONNRESET" ? ` (${code})` : ""),
  };
}

/**
 * Whether the server accepted our certificate: it answered our request with
 * something other than 401/403 and did not hang up or send an alert.
 *
 * @example A server that hangs up on our certificate
 * ```ts
 * import { clientCertStep } from "./client_cert.ts";
 * const step = clientCertStep({
 *   peer: "127.0.0.1:8443",
 *   flight: { answered: true, certificateRequest: true, chain: [] },
 *   anonymous: { handshake: true, outcome: "closed" },
 *   ours: { handshake: true, outcome: "closed" },
 *   now: new Date(),
 * });
 * console.log(step.code); // "unknown_ca": most likely our CA is not trusted there
 * ```
 */
export function clientCertStep(e: ClientCertEvidence): DiagnosisStep {
  const name = "Client";
  if (!e.ours) {
    return refusesAnonymous(e.anonymous)
      ? {
        name,
        status: "fail",
        code: "no_client_cert",
        summary: "server requires a client certificate and none was given",
        fix: FIXES.no_client_cert,
      }
      : { name, status: "skip", summary: "skipped: no --cert given" };
  }
  if (e.flight?.answered && !e.flight.certificateRequest) {
    return { name, status: "skip", summary: "skipped: the server does not ask for one" };
  }
  if (!refusesAnonymous(e.anonymous) && !e.flight?.certificateRequest) {
    // TLS 1.3 hides the CertificateRequest: an answer to us proves nothing about our certificate.
    return {
      name,
      status: "skip",
      summary: "skipped: the server serves clients without a certificate, " +
        "so its answer says nothing about ours",
    };
  }
  const who = subject(e.cert);
  const p = e.ours;
  if (
    (p.outcome === "answered" && p.status !== 401 && p.status !== 403) || p.outcome === "silent"
  ) {
    return {
      name,
      status: "pass",
      summary: `server accepted our certificate "${who}" (${
        p.outcome === "silent" ? "no refusal, no answer yet" : answered(p)
      })`,
    };
  }
  const { reason, summary } = refusal(e, p);
  // A bearer-token refusal comes after TLS admitted us: the Auth step reports it.
  if (TOKEN_REASONS.includes(reason)) {
    return {
      name,
      status: "pass",
      summary: `server accepted our certificate "${who}" (${
        answered(p)
      }: it wants a bearer token, see Auth)`,
    };
  }
  return {
    name,
    status: "fail",
    code: reason,
    summary: `our certificate "${who}" was refused: ${summary}`,
    fix: FIXES[reason] ?? "look in the server's log for why it refused the connection",
  };
}

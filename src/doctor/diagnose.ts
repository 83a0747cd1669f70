/**
 * `diagnoseConnection`: connects to an mTLS MCP server step by step and says
 * what is wrong (the engine of `mcp-mtls doctor`). Each check is one
 * {@link DiagnosisStep}; checks that depend on a failed one are skipped, saying so.
 *
 * @module
 */
import { isIP } from "node:net";
import tls from "node:tls";
import { codeOf, type ErrorContext, handshakeVerdict } from "../tls/client/errors.ts";
import { checkServerCertificates } from "./chain.ts";
import { clientCertStep, requestStep } from "./client_cert.ts";
import { mcpStep } from "./mcp.ts";
import { probeTcp, probeTls, type TcpResult, type TlsProbe } from "./probe.ts";
import { type Diagnosis, diagnosis, type DiagnosisStep, skipped } from "./report.ts";
import { revocationStep } from "./revocation.ts";
import { tokenSteps } from "./token.ts";
import { readTls12Flight, type Tls12Flight } from "./tls12.ts";

/**
 * Options of {@link diagnoseConnection}: what the client presents and
 * expects. Certificates are PEM text.
 *
 * @example
 * ```ts
 * import type { DiagnoseOptions } from "./diagnose.ts";
 * const o: DiagnoseOptions = { pins: ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="] };
 * ```
 */
export interface DiagnoseOptions {
  /** Our certificate, PEM. @default {none: connect without a client certificate} */
  cert?: string;
  /** Its private key, PEM. Required with `cert`. */
  key?: string;
  /** Trusted CA certificates, PEM. @default {the system roots} */
  ca?: string[];
  /** Expected server pins (`sha256/<base64>` or `cert-sha256/<hex>`). @default {[] (no pin check)} */
  pins?: string[];
  /** CRL files or URLs to check the server certificate against. @default {[]} */
  crls?: string[];
  /** Milliseconds for each network step. @default {5000} */
  timeout?: number;
  /** Our bearer access token: checked (audience, expiry, binding to `cert`) and sent. @default {none} */
  token?: string;
  /** Clock for validity checks. @default {() => new Date()} */
  now?: () => Date;
}

const AFTER_TCP = ["TLS", "Chain", "Expiry", "Hostname", "Pin", "Revocation", "Request", "Client"];
const CERT_STEPS = ["Chain", "Expiry", "Hostname", "Pin", "Revocation"];

function tcpSteps(host: string, port: number, tcp: TcpResult, timeout: number): DiagnosisStep[] {
  const steps: DiagnosisStep[] = [];
  const message = (tcp.error as Error)?.message ?? String(tcp.error);
  if (tcp.failed === "dns") {
    return [{
      name: "DNS",
      status: "fail",
      code: "connection_failed",
      summary: `cannot resolve "${host}": ${message}`,
      fix: "check the host name in the URL and this machine's DNS settings",
    }];
  }
  if (tcp.address !== host) {
    steps.push({ name: "DNS", status: "pass", summary: `"${host}" is ${tcp.address}` });
  }
  if (tcp.failed === "tcp") {
    const code = codeOf(tcp.error);
    steps.push({
      name: "TCP",
      status: "fail",
      code: "connection_failed",
      summary: code === "ECONNREFUSED"
        ? `nothing is listening on ${tcp.address}:${port} (connection refused)`
        : code === "ETIMEDOUT"
        ? `no answer from ${tcp.address}:${port} within ${timeout} ms`
        : `cannot connect to ${tcp.address}:${port}: ${message}`,
      fix: code === "ETIMEDOUT"
        ? "check that the server is up and that no firewall drops the connection"
        : "start the server, or check the host and port in the URL",
    });
    return steps;
  }
  steps.push({
    name: "TCP",
    status: "pass",
    summary: `connected to ${tcp.address}:${port} in ${tcp.ms!.toFixed(1)} ms`,
  });
  return steps;
}

function tlsStep(
  anon: TlsProbe,
  ours: TlsProbe | undefined,
  flight: Tls12Flight,
  ctx: ErrorContext,
  timeout: number,
): DiagnosisStep {
  const done = anon.handshake ? anon : ours?.handshake ? ours : undefined;
  if (done) {
    return { name: "TLS", status: "pass", summary: `${done.protocol}, ${done.cipher}` };
  }
  if (flight.answered) {
    return {
      name: "TLS",
      status: "pass",
      summary: "TLSv1.2 (server hello seen; the full handshake was refused, see Client)",
    };
  }
  if (flight.plainHttp) {
    return {
      name: "TLS",
      status: "fail",
      code: "handshake_failed",
      summary: `${ctx.peer} answered in plain HTTP, not TLS`,
      fix: "use the server's TLS port in the URL, or turn TLS on at the server",
    };
  }
  const error = anon.error ?? ours?.error;
  if (!error) {
    const silent = anon.outcome === "silent";
    return {
      name: "TLS",
      status: "fail",
      code: silent ? "handshake_timeout" : "handshake_failed",
      summary: silent
        ? `no TLS handshake within ${timeout} ms`
        : "the server closed the connection during the TLS handshake",
      fix: "check that the URL points at a TLS (https) port",
    };
  }
  const verdict = handshakeVerdict(error, ctx);
  const err = verdict.kind === "error" ? verdict.error : undefined;
  const code = err?.code ?? "handshake_failed";
  return {
    name: "TLS",
    status: "fail",
    code,
    summary: err?.message ?? `TLS handshake failed (${codeOf(error) ?? "no code"})`,
    fix: code === "protocol_version"
      ? "the server speaks neither TLS 1.2 nor 1.3; upgrade its TLS settings"
      : "check that the URL points at a TLS (https) port, and look in the server's log",
  };
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return !!a && !!b && a.length === b.length && a.every((v, n) => v === b[n]);
}

/** Chain, expiry, host name, pin and revocation of the server certificate. */
async function certificateSteps(
  leaf: Uint8Array | undefined,
  flight: Tls12Flight,
  host: string,
  { ca, pins = [], crls = [], timeout = 5_000, now = () => new Date() }: DiagnoseOptions,
): Promise<DiagnosisStep[]> {
  if (!leaf) return CERT_STEPS.map((n) => skipped(n, "no server certificate was seen"));
  // The TLS 1.2 flight shows the whole chain; use it when it carries the same leaf.
  const chain = sameBytes(flight.chain[0], leaf) ? flight.chain : [leaf];
  const checked = checkServerCertificates({
    chain,
    anchors: ca ?? [...tls.rootCertificates],
    anchorSource: ca ? "--ca" : "the system roots",
    host,
    pins,
    now: now(),
  });
  return [
    ...checked.steps,
    await revocationStep({ leaf, issuer: checked.issuer, crls, timeout }),
  ];
}

/**
 * Diagnoses the connection to `url`: DNS and TCP, the TLS version and
 * cipher, the server chain against `ca` with expiry, the host name, pins,
 * revocation, whether the server asks for a client certificate and accepts
 * ours, and an MCP `initialize`. Never throws for a network failure: every
 * outcome is a step.
 *
 * @param url the server's MCP endpoint, `https://host:port/mcp`
 * @param options what we present and trust
 * @returns the steps, with `ok` when none failed
 *
 * @example Diagnosing a server
 * ```ts ignore
 * import { diagnoseConnection } from "./diagnose.ts";
 * import { formatDiagnosis } from "./report.ts";
 * const d = await diagnoseConnection("https://127.0.0.1:8443/mcp", {
 *   cert: await Deno.readTextFile("certs/client.crt"),
 *   key: await Deno.readTextFile("certs/client.key"),
 *   ca: [await Deno.readTextFile("certs/ca.crt")],
 * });
 * console.log(formatDiagnosis(d));
 * ```
 */
export async function diagnoseConnection(
  url: string | URL,
  options: DiagnoseOptions = {},
): Promise<Diagnosis> {
  const { cert, key, ca, pins = [], timeout = 5_000, now = () => new Date(), token } = options;
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const port = Number(u.port || 443);
  const steps = tcpSteps(host, port, await probeTcp(host, port, timeout), timeout);
  if (steps.some((s) => s.status === "fail")) {
    const why = steps[steps.length - 1].name === "DNS" ? "DNS failed" : "TCP failed";
    return diagnosis(u.href, [
      ...steps,
      ...[...AFTER_TCP, "MCP"].map((n) => skipped(n, why)),
    ]);
  }
  const servername = isIP(host) === 0 ? host : undefined; // SNI carries names only
  const probe = { host, port, servername, path: u.pathname + u.search, timeout };
  // One after the other: single-threaded servers (openssl s_server) take one connection at a time.
  const flight = await readTls12Flight(host, port, servername, timeout);
  const anon = await probeTls(probe);
  const ours = cert ? await probeTls({ ...probe, cert, key }) : undefined;
  const ctx: ErrorContext = {
    peer: `${host}:${port}`,
    hasCert: false,
    versions: "TLSv1.2-TLSv1.3",
  };
  const tlsResult = tlsStep(anon, ours, flight, ctx, timeout);
  steps.push(tlsResult);
  if (tlsResult.status === "fail") {
    steps.push(...[...AFTER_TCP.slice(1), "MCP"].map((n) => skipped(n, "TLS failed")));
    return diagnosis(u.href, steps);
  }
  const leaf = anon.leaf ?? ours?.leaf ?? flight.chain[0];
  steps.push(...await certificateSteps(leaf, flight, host, options));
  const evidence = { peer: ctx.peer, flight, anonymous: anon, ours, cert, now: now() };
  steps.push(requestStep(evidence), clientCertStep(evidence));
  // Only once TLS is sound: a bearer challenge needs an admitted connection.
  if (!steps.some((s) => s.status === "fail")) {
    steps.push(
      ...await tokenSteps({ url: u.href, cert, key, ca, pins, timeout, token, now: now() }),
    );
  }
  const failed = steps.filter((s) => s.status === "fail").map((s) => s.name);
  steps.push(
    failed.length
      ? skipped("MCP", `${failed.join(", ")} failed`)
      : await mcpStep({ url: u.href, cert, key, ca, pins, timeout, token }),
  );
  return diagnosis(u.href, steps);
}

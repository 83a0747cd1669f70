/**
 * The checks a diagnosis makes on the server's certificates, from their DER
 * alone: the chain to a trusted CA, validity dates, host name and pins. Pure:
 * the clock comes in as an argument.
 *
 * @module
 */
import { isIP } from "node:net";
import { type Certificate, readCertificate, readCertificates } from "../cert/certificate.ts";
import { namesIssuer, signedBy } from "../cert/verify_signature.ts";
import { compilePinSet } from "../pins/pin_set.ts";
import { computePins } from "../pins/compute_pins.ts";
import { checkHostName } from "../policy/host_name.ts";
import { verifyServerChain } from "../policy/verify_server_chain.ts";
import type { DiagnosisStep } from "./report.ts";

/**
 * What the certificate checks start from.
 *
 * @example
 * ```ts
 * import type { ServerCertificates } from "./chain.ts";
 * const input: Omit<ServerCertificates, "chain"> = {
 *   anchors: [], anchorSource: "--ca", host: "127.0.0.1", pins: [], now: new Date(),
 * };
 * ```
 */
export interface ServerCertificates {
  /** What the server presented, leaf first, DER. */
  chain: Uint8Array[];
  /** Trusted CA certificates, PEM (each string may hold several). */
  anchors: string[];
  /** How to name the anchors in messages: `--ca` or `the system roots`. */
  anchorSource: string;
  /** The host we connected to (name or IP), for the host name check. */
  host: string;
  /** Expected pins (`sha256/...` or `cert-sha256/...`); empty: no pin check. */
  pins: string[];
  /** The time to judge validity at. */
  now: Date;
}

/**
 * The four certificate steps, and the leaf's issuer when the chain was built
 * (the revocation check needs it).
 *
 * @example
 * ```ts
 * import type { ChainSteps } from "./chain.ts";
 * const byName = (r: ChainSteps) => r.steps.map((s) => s.name); // Chain, Expiry, Hostname, Pin
 * ```
 */
export interface ChainSteps {
  steps: DiagnosisStep[];
  /** DER of the certificate that signed the leaf, when it was found. */
  issuer?: Uint8Array;
}

const DAY = 86_400_000;
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const ANY_EKU = "2.5.29.37.0";
/** Below this many days left, a valid certificate earns a warning. */
const SOON_DAYS = 14;

/** A name on one line (a step's summary is one line): its RDNs joined by `, `. */
function name(x: Certificate, field: "subject" | "issuer" = "subject"): string {
  return x[field].text.replaceAll("\n", ", ");
}

function signs(issuer: Certificate, cert: Certificate): boolean {
  return namesIssuer(cert, issuer) && signedBy(cert, issuer.publicKey);
}

function readAnchors(texts: string[]): Certificate[] {
  const out: Certificate[] = [];
  for (const text of texts) {
    try {
      out.push(...readCertificates(text));
    } catch {
      // an unreadable CA cannot anchor anything; the CLI reports bad --ca files itself
    }
  }
  return out;
}

/** Walks from the leaf through presented intermediates to an anchor. */
function buildPath(chain: Certificate[], anchors: Certificate[]) {
  const path = [chain[0]];
  for (let depth = 0; depth < 8; depth++) {
    const current = path[path.length - 1];
    const anchor = anchors.find((a) => signs(a, current));
    if (anchor) {
      if (anchor.fingerprint !== current.fingerprint) path.push(anchor);
      return { path, trusted: true };
    }
    const next = chain.find((c) => !path.includes(c) && signs(c, current));
    if (!next) break;
    path.push(next);
  }
  return { path, trusted: false };
}

function chainStep(
  chain: Certificate[],
  anchors: Certificate[],
  c: ServerCertificates,
): { step: DiagnosisStep; path: Certificate[] } {
  const leaf = chain[0];
  const { path, trusted } = buildPath(chain, anchors);
  const details = path.map((x, n) =>
    `${n === 0 ? "leaf" : n === path.length - 1 && trusted ? "CA  " : "via "} "${name(x)}"` +
    ` until ${x.notAfter.toISOString().slice(0, 10)}`
  );
  if (!trusted) {
    const end = path[path.length - 1];
    const selfSigned = signs(end, end);
    const summary = end === leaf
      ? selfSigned
        ? `server certificate "${name(leaf)}" is self-signed and not in ${c.anchorSource}`
        : `server certificate "${name(leaf)}" is not signed by a CA in ${c.anchorSource} ` +
          `(issuer "${name(leaf, "issuer")}")`
      : `server chain ends at "${name(end)}", whose issuer "${name(end, "issuer")}" ` +
        `is not in ${c.anchorSource}`;
    return {
      path,
      step: {
        name: "Chain",
        status: "fail",
        code: "unknown_ca",
        summary,
        details,
        fix: `pass the CA that issued the server certificate with --ca, ` +
          `or check you are talking to the right server`,
      },
    };
  }
  const ekus = leaf.extendedKeyUsage;
  if (ekus && !ekus.includes(SERVER_AUTH) && !ekus.includes(ANY_EKU)) {
    return {
      path,
      step: {
        name: "Chain",
        status: "fail",
        code: "bad_key_usage",
        summary: `server certificate "${name(leaf)}" is not for server authentication ` +
          `(no extended key usage serverAuth)`,
        details,
        fix: "reissue the server certificate as a server certificate " +
          '(e.g. "mcp-mtls certs issue server NAME")',
      },
    };
  }
  // The client's chain rules (weak keys and signatures, CA constraints); dates are the next step's.
  const refused = verifyServerChain(path, { anchors, now: c.now });
  if (refused && refused.reason !== "expired" && refused.reason !== "not_yet_valid") {
    return {
      path,
      step: {
        name: "Chain",
        status: "fail",
        code: refused.reason,
        summary: refused.message,
        details,
        fix: "reissue the certificate the summary names with a strong key and signature, " +
          "under a CA whose constraints allow it",
      },
    };
  }
  const top = path[path.length - 1];
  return {
    path,
    step: {
      name: "Chain",
      status: "pass",
      summary: `"${name(leaf)}" is signed by "${name(top)}" from ${c.anchorSource}`,
      details,
    },
  };
}

function expiryStep(path: Certificate[], now: Date): DiagnosisStep {
  for (const [n, x] of path.entries()) {
    const what = n === 0 ? "server certificate" : "CA certificate";
    const to = x.notAfter;
    const from = x.notBefore;
    if (now > to) {
      const ago = Math.floor((now.getTime() - to.getTime()) / DAY);
      return {
        name: "Expiry",
        status: "fail",
        code: "expired",
        summary: `${what} "${name(x)}" expired on ${to.toISOString()} ` +
          `(${ago === 0 ? "today" : `${ago} day${ago === 1 ? "" : "s"} ago`})`,
        fix: n === 0
          ? "renew the server certificate and reload the server " +
            '(e.g. "mcp-mtls certs issue server NAME")'
          : "renew the CA certificate, then the certificates it signs",
      };
    }
    if (now < from) {
      return {
        name: "Expiry",
        status: "fail",
        code: "not_yet_valid",
        summary: `${what} "${name(x)}" is not valid before ${from.toISOString()}`,
        fix: "check the clock of this machine and of the machine that issued the certificate",
      };
    }
  }
  const to = path[0].notAfter;
  const left = Math.floor((to.getTime() - now.getTime()) / DAY);
  const summary = `server certificate valid until ${to.toISOString()} (${left} days left)`;
  return left < SOON_DAYS
    ? { name: "Expiry", status: "warn", summary, fix: "renew the server certificate soon" }
    : { name: "Expiry", status: "pass", summary };
}

function hostnameStep(leaf: Certificate, host: string): DiagnosisStep {
  // The client's own rule (RFC 9525): SANs only, whole-label wildcards, IPs against IP SANs.
  const mismatch = checkHostName(host, leaf);
  if (!mismatch) {
    return { name: "Hostname", status: "pass", summary: `"${host}" matches the certificate` };
  }
  const why = mismatch.notes.length ? `: ${mismatch.notes.join("; ")}` : "";
  const san = `${isIP(host) ? "ip" : "dns"}:${host}`;
  return {
    name: "Hostname",
    status: "fail",
    code: "hostname_mismatch",
    summary: `server certificate "${name(leaf)}" is for ${mismatch.names || "no names"}, ` +
      `not "${host}"${why}`,
    fix: `connect with a name the certificate lists, or reissue the server certificate ` +
      `with "${san}" among its names (e.g. --san ${san})`,
  };
}

function pinStep(leaf: Uint8Array, pins: string[]): DiagnosisStep {
  const actual = computePins(leaf);
  if (pins.length === 0) {
    return {
      name: "Pin",
      status: "skip",
      summary: `skipped: no --pin given (server key ${actual.spki})`,
    };
  }
  if (compilePinSet(pins)(leaf)) {
    return { name: "Pin", status: "pass", summary: `server key ${actual.spki} matches --pin` };
  }
  return {
    name: "Pin",
    status: "fail",
    code: "pin_mismatch",
    summary: `server key ${actual.spki} matches no --pin (expected ${pins.join(" or ")})`,
    fix: "if the server key was rotated on purpose, pin the new one " +
      '(e.g. "mcp-mtls certs pin server.crt"); otherwise this may not be the server you expect',
  };
}

/**
 * Runs the chain, expiry, host name and pin checks on what the server
 * presented. `chain[0]` must be the leaf.
 *
 * @example Checking a certificate against the wrong CA
 * ```ts
 * import { createRootCa, issueCertificate } from "../pki/mod.ts";
 * import { checkServerCertificates } from "./chain.ts";
 *
 * const ca = await createRootCa({ commonName: "Right CA" });
 * const other = await createRootCa({ commonName: "Other CA" });
 * const server = await issueCertificate(other, "server", { subjectAltNames: "ip:127.0.0.1" });
 * const { steps } = checkServerCertificates({
 *   chain: [server.certificate.der],
 *   anchors: [ca.certificatePem],
 *   anchorSource: "--ca",
 *   host: "127.0.0.1",
 *   pins: [],
 *   now: new Date(),
 * });
 * console.log(steps[0].code); // "unknown_ca"
 * ```
 */
export function checkServerCertificates(c: ServerCertificates): ChainSteps {
  const chain = c.chain.map((der) => readCertificate(der));
  const { step, path } = chainStep(chain, readAnchors(c.anchors), c);
  return {
    steps: [
      step,
      expiryStep(path, c.now),
      hostnameStep(chain[0], c.host),
      pinStep(c.chain[0], c.pins),
    ],
    issuer: path[1]?.der,
  };
}

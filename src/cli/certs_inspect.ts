/**
 * `mcp-mtls certs inspect`: what a certificate file says, as text or JSON.
 *
 * @module
 */
import { type CertificateInfo, inspectCertificate, parseCertificates } from "../pki/mod.ts";
import { parseCommandArgs } from "./args.ts";
import { readInputFile } from "./files.ts";
import { type CliIo, denoIo } from "./io.ts";
import { runCommand } from "./run_command.ts";
import { MtlsError } from "../errors.ts";

const HELP = `Usage: mcp-mtls certs inspect FILE [--json]

Shows subject, issuer, SANs, serial, validity, key type, extended key usage,
SHA-256 fingerprint, SPKI pin and time to expiry of every certificate in FILE
(PEM, one or more blocks, or DER).

Options:
  --json      print JSON: an object for one certificate, an array for several
  -h, --help  show this help
`;

/**
 * Runs `certs inspect` with `args` (the words after `certs inspect`).
 *
 * @param args command-line arguments
 * @param io output streams (the process's by default)
 * @returns the exit code: 0, 1 on failure, 2 on bad usage
 *
 * @example Inspecting the development server certificate as JSON
 * ```ts
 * import { certsInit, certsInspect } from "@mtls/mcp/cli";
 * const dir = await Deno.makeTempDir();
 * await certsInit(["--dir", dir]);
 * await certsInspect([`${dir}/server.crt`, "--json"]);
 * ```
 */
export function certsInspect(args: string[], io: CliIo = denoIo): Promise<number> {
  return runCommand(io, async () => {
    const { values, positionals, help } = parseCommandArgs("certs inspect", args, {
      json: { type: "boolean", default: false },
    }, 1);
    if (help) {
      io.stdout(HELP);
      return 0;
    }
    const file = positionals[0];
    if (file === undefined) {
      throw new MtlsError("invalid_argument", 'Missing FILE: expected "certs inspect FILE"');
    }
    const certs = parseCertificates(await readInputFile(file), { source: file });
    const infos = await Promise.all(certs.map((c) => inspectCertificate(c)));
    if (values.json) {
      io.stdout(`${JSON.stringify(infos.length === 1 ? infos[0] : infos, null, 2)}\n`);
      return 0;
    }
    infos.forEach((info, i) => {
      if (infos.length > 1) io.stdout(`${i ? "\n" : ""}Certificate ${i + 1} of ${infos.length}\n`);
      io.stdout(formatInfo(info));
    });
    return 0;
  });
}

/** The text form of one certificate's facts. */
export function formatInfo(info: CertificateInfo): string {
  const sans = info.subjectAltNames.map((s) => `${s.type}:${s.value}`).join(", ");
  const rows: [string, string][] = [
    ["Subject", info.subject],
    ["Issuer", info.issuer],
    ["SANs", sans || "none"],
    ["Serial", info.serialNumber],
    ["Not before", info.notBefore.toISOString()],
    ["Not after", `${info.notAfter.toISOString()} (${describeExpiry(info.secondsToExpiry)})`],
    ["Key type", info.keyType],
    ["Key usage", info.extendedKeyUsage.join(", ") || "any"],
    ["CA", info.isCa ? "yes" : "no"],
    ["SHA-256", info.fingerprint],
    ["SPKI pin", info.spkiPin],
    ["Renew", info.needsRenewal ? "yes, two thirds of its lifetime have passed" : "not yet"],
  ];
  return rows.map(([k, v]) => `  ${(k + ":").padEnd(12)}${v}\n`).join("");
}

function describeExpiry(seconds: number): string {
  const span = (s: number) =>
    s >= 172_800
      ? `${Math.floor(s / 86_400)} days`
      : s >= 7_200
      ? `${Math.floor(s / 3_600)} hours`
      : `${Math.max(1, Math.floor(s / 60))} minutes`;
  return seconds > 0 ? `expires in ${span(seconds)}` : `expired ${span(-seconds)} ago`;
}

/**
 * `mcp-mtls doctor URL`: diagnose a connection to an mTLS MCP server and say
 * what is wrong, step by step, with a fix for each failure.
 *
 * @module
 */
import { createPrivateKey } from "node:crypto";
import { CertificateError, MtlsError } from "../errors.ts";
import { parsePin } from "../pins/pin.ts";
import { parseCertificates } from "../pki/parse_certificates.ts";
import { encodePem } from "../cert/pem.ts";
import { diagnoseConnection } from "../doctor/diagnose.ts";
import { diagnosisJson, formatDiagnosis } from "../doctor/report.ts";
import { parseCommandArgs } from "./args.ts";
import { readInputFile } from "./files.ts";
import { type CliIo, denoIo } from "./io.ts";
import { EXIT_FAILURE, runCommand } from "./run_command.ts";
import { readToken } from "./token_options.ts";

const HELP =
  `Usage: mcp-mtls doctor URL [--cert FILE --key FILE] [--ca FILE] [--pin PIN] [--crl FILE] [--json]

Connects to URL (https://host:port/path) and reports, step by step: DNS and
TCP, TLS version and cipher, the server chain with expiry, host name match,
pin match, revocation status, whether the server asks for a client
certificate and accepts ours, whether it wants a bearer token (and whether
ours is bound to our certificate), and an MCP initialize. Each failure carries a
reason code and a fix.

Options:
  --cert FILE     our client certificate (PEM)
  --key FILE      its private key (PEM); required with --cert
  --ca FILE       CA certificate(s) the server must chain to (default: the system roots); repeatable
  --pin PIN       expected server key, sha256/<base64> (as "certs pin" prints) or cert-sha256/<hex); repeatable
  --crl FILE      a CRL file or URL to check the server certificate against; repeatable
  --timeout MS    milliseconds for each network step (default 5000)
  --token-file F  our bearer access token, in file F: checked (audience, expiry, bound to
                  --cert) and sent
  --token-env VAR the same, from environment variable VAR
  --json          print the result as JSON
  -h, --help      show this help

Exit status: 0 when every check passes, 1 when one fails, 2 on bad usage.
`;

interface DoctorInput {
  url: string;
  cert?: string;
  key?: string;
  ca?: string[];
  pins: string[];
  crls: string[];
  timeout: number;
  json: boolean;
  token?: string;
}

function usage(message: string): MtlsError {
  return new MtlsError("invalid_argument", message);
}

function list(value: unknown): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];
}

function checkUrl(text: string | undefined): string {
  if (text === undefined) throw usage('Missing URL: expected "doctor URL" (see --help)');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage(`Invalid URL "${text}": expected https://host:port/path`);
  }
  if (url.protocol !== "https:") {
    throw usage(`URL "${text}" must use "https:": doctor diagnoses mutual TLS`);
  }
  return url.href;
}

function checkTimeout(value: unknown): number {
  if (value === undefined) return 5_000;
  const ms = /^\d{1,6}$/.test(String(value)) ? Number(value) : NaN;
  if (!(ms >= 1 && ms <= 600_000)) {
    throw usage(`Invalid --timeout "${value}": expected milliseconds from 1 to 600000`);
  }
  return ms;
}

/** A certificate file (PEM or DER) as PEM text of its certificates, or a key file's text. */
async function readPem(path: string, what: "certificate" | "key"): Promise<string> {
  const bytes = await readInputFile(path);
  if (what === "certificate") {
    return parseCertificates(bytes, { source: path })
      .map((c) => encodePem(c.der, "CERTIFICATE")).join("");
  }
  const text = new TextDecoder().decode(bytes);
  try {
    createPrivateKey(text);
  } catch (cause) {
    throw new CertificateError("invalid_key", `Cannot read the private key in "${path}"`, {
      cause,
    });
  }
  return text;
}

async function readInput(
  args: string[],
  env: (name: string) => string | undefined,
): Promise<DoctorInput | undefined> {
  const { values, positionals, help } = parseCommandArgs("doctor", args, {
    cert: { type: "string" },
    key: { type: "string" },
    ca: { type: "string", multiple: true },
    pin: { type: "string", multiple: true },
    crl: { type: "string", multiple: true },
    timeout: { type: "string" },
    json: { type: "boolean" },
    "token-file": { type: "string" },
    "token-env": { type: "string" },
  }, 1);
  if (help) return undefined;
  const url = checkUrl(positionals[0]);
  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw usage('Options "--cert" and "--key" go together: give both or neither');
  }
  const pins = list(values.pin).map((p) => parsePin(p).text);
  const timeout = checkTimeout(values.timeout);
  const cas = list(values.ca);
  return {
    url,
    cert: values.cert === undefined ? undefined : await readPem(String(values.cert), "certificate"),
    key: values.key === undefined ? undefined : await readPem(String(values.key), "key"),
    ca: cas.length ? await Promise.all(cas.map((f) => readPem(f, "certificate"))) : undefined,
    pins,
    crls: list(values.crl),
    timeout,
    json: values.json === true,
    token: await readToken(values["token-file"], values["token-env"], env),
  };
}

/**
 * Runs `doctor` with `args` (the words after `doctor`).
 *
 * @param args command-line arguments: the URL and options
 * @param io output streams (the process's by default)
 * @returns 0 when every check passes, 1 when one fails, 2 on bad usage
 *
 * @example Diagnosing a server started with `serve --certs certs`
 * ```ts ignore
 * import { doctor } from "./doctor.ts";
 * const code = await doctor([
 *   "https://127.0.0.1:8443/mcp",
 *   "--cert", "certs/client.crt", "--key", "certs/client.key", "--ca", "certs/ca.crt",
 * ]);
 * console.log(code); // 0 when the connection is healthy
 * ```
 *
 * @example Bad usage exits with 2
 * ```ts
 * import { doctor } from "./doctor.ts";
 * const io = { stdout: () => {}, stderr: () => {}, env: () => undefined };
 * console.log(await doctor(["http://127.0.0.1:8443/mcp"], io)); // 2
 * ```
 */
export function doctor(args: string[], io: CliIo = denoIo): Promise<number> {
  return runCommand(io, async () => {
    const input = await readInput(args, (name) => io.env(name));
    if (!input) {
      io.stdout(HELP);
      return 0;
    }
    const result = await diagnoseConnection(input.url, input);
    io.stdout(input.json ? diagnosisJson(result) : formatDiagnosis(result));
    return result.ok ? 0 : EXIT_FAILURE;
  });
}

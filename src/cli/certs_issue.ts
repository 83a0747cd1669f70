/**
 * `mcp-mtls certs issue`: one more server or client certificate from the CA
 * in a certs folder.
 *
 * @module
 */
import { join } from "node:path";
import { CertificateError, FileError, MtlsError } from "../errors.ts";
import {
  type CertificateBundle,
  importPrivateKey,
  inspectCertificate,
  issueCertificate,
  type KeyType,
  parseCertificates,
  parseKeyType,
  parseSubjectAltNames,
  privateKeyMatchesCertificate,
  type SubjectAltName,
  toPkcs12,
} from "../pki/mod.ts";
import { encodePem } from "../cert/pem.ts";
import { parseCommandArgs, parseDays } from "./args.ts";
import { exists, type PlannedFile, readInputFile, writeAll } from "./files.ts";
import { type CliIo, denoIo } from "./io.ts";
import { runCommand } from "./run_command.ts";

const DEFAULT_PASSWORD_ENV = "MCP_MTLS_P12_PASSWORD";

const HELP = `Usage: mcp-mtls certs issue server|client NAME [options]

Issues a certificate signed by DIR/ca.crt and DIR/ca.key and writes
DIR/NAME.crt and DIR/NAME.key (mode 0600), and DIR/NAME.p12 with --p12.
The subject is CN=NAME. A server certificate without --san names NAME itself.

Options:
  --san LIST          subject alternative names, comma-separated:
                      dns:HOST, ip:ADDRESS, uri:URI (e.g. a SPIFFE ID), email:ADDRESS
  --dir DIR           the certs folder holding the CA            [default: certs]
  --days N            lifetime in days                            [default: 365]
  --key TYPE          ec-p256, ec-p384, ed25519, rsa-2048, rsa-3072 or rsa-4096
                                                                  [default: ec-p256]
  --p12               also write NAME.p12 (PKCS#12, AES-256) with the CA certificate
  --password-env VAR  environment variable holding the .p12 password
                                                   [default: ${DEFAULT_PASSWORD_ENV}]
  --force             replace existing NAME.* files
  -h, --help          show this help
`;

/**
 * Runs `certs issue` with `args` (the words after `certs issue`).
 *
 * @param args command-line arguments
 * @param io output streams and environment (the process's by default)
 * @returns the exit code: 0, 1 on failure, 2 on bad usage
 *
 * @example Issuing a client certificate for an agent
 * ```ts
 * import { certsInit, certsIssue } from "@mtls/mcp/cli";
 * const dir = await Deno.makeTempDir();
 * await certsInit(["--dir", dir]);
 * const code = await certsIssue(["client", "agent-1", "--dir", dir, "--san", "uri:spiffe://example.org/agent-1"]);
 * console.log(code); // 0
 * ```
 */
export function certsIssue(args: string[], io: CliIo = denoIo): Promise<number> {
  return runCommand(io, async () => {
    const request = parseIssueArgs(args, io);
    if (request === "help") {
      io.stdout(HELP);
      return 0;
    }
    const { role, name, dir, keyType, days, sans, force, password } = request;
    const outputs = [`${name}.crt`, `${name}.key`, ...(password ? [`${name}.p12`] : [])]
      .map((f) => join(dir, f));
    if (!force) await refuseExisting(outputs);

    const ca = await loadCa(dir);
    const leaf = await issueCertificate(ca, role, {
      commonName: name,
      subjectAltNames: sans,
      keyType,
      days,
      exportable: true,
    });
    const files: PlannedFile[] = [
      { path: outputs[0], data: leaf.certificatePem, mode: 0o644 },
      { path: outputs[1], data: leaf.privateKeyPem!, mode: 0o600 },
    ];
    if (password !== undefined) {
      const p12 = await toPkcs12({
        certificate: leaf.certificate,
        privateKey: leaf.privateKey,
        chain: [ca.certificate],
        friendlyName: name,
      }, password);
      files.push({ path: outputs[2], data: p12, mode: 0o600 });
    }
    await writeAll(files, { overwrite: force });

    io.stdout(`Issued a ${role} certificate for ${leaf.certificate.subject.text} (${keyType}):\n`);
    for (const f of files) io.stdout(`  ${f.path}\n`);
    const info = await inspectCertificate(leaf.certificate);
    const sanText = info.subjectAltNames.map((s) => `${s.type}:${s.value}`).join(", ") || "none";
    io.stdout(`  SANs:     ${sanText}\n`);
    io.stdout(`  Expires:  ${info.notAfter.toISOString()}\n`);
    io.stdout(`  SPKI pin: ${info.spkiPin}\n`);
    return 0;
  });
}

/** Everything `certs issue` was asked for, validated. */
interface IssueRequest {
  role: "server" | "client";
  name: string;
  dir: string;
  keyType: KeyType;
  days: number | undefined;
  sans: SubjectAltName[] | undefined;
  force: boolean;
  /** The PKCS#12 password; `undefined` without --p12. */
  password: string | undefined;
}

/** Validates every argument before any key is generated or file touched. */
function parseIssueArgs(args: string[], io: CliIo): IssueRequest | "help" {
  const { values, positionals, help } = parseCommandArgs("certs issue", args, {
    san: { type: "string" },
    dir: { type: "string", default: "certs" },
    days: { type: "string" },
    key: { type: "string", default: "ec-p256" },
    p12: { type: "boolean", default: false },
    "password-env": { type: "string" },
    force: { type: "boolean", default: false },
  }, 2);
  if (help) return "help";
  const [role, name] = positionals;
  if (role === undefined || name === undefined) {
    throw new MtlsError(
      "invalid_argument",
      'Missing arguments: expected "certs issue server|client NAME" (see --help)',
    );
  }
  if (role !== "server" && role !== "client") {
    throw new MtlsError(
      "invalid_argument",
      `Invalid role "${role}": expected "server" or "client"`,
    );
  }
  checkName(name);
  const keyType = parseKeyType(values.key as string);
  const days = parseDays(values.days);
  const sans = values.san === undefined ? undefined : parseSubjectAltNames(values.san as string);
  const passwordEnv = values["password-env"] as string | undefined;
  const password = values.p12 ? p12Password(io, passwordEnv) : undefined;
  if (!values.p12 && passwordEnv !== undefined) {
    throw new MtlsError("invalid_argument", 'Option "--password-env" needs --p12');
  }
  const dir = values.dir as string;
  return { role, name, dir, keyType, days, sans, force: values.force as boolean, password };
}

async function refuseExisting(paths: string[]): Promise<void> {
  for (const path of paths) {
    if (await exists(path)) {
      throw new FileError("file_exists", `Refusing to overwrite "${path}" (use --force)`, { path });
    }
  }
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) || name.endsWith(".")) {
    throw new MtlsError(
      "invalid_argument",
      `Invalid name "${name}": use letters, digits, ".", "_" and "-" (at most 64 characters)`,
    );
  }
  if (name === "ca") {
    throw new MtlsError("invalid_argument", 'Invalid name "ca": it is reserved for the CA');
  }
}

function p12Password(io: CliIo, variable = DEFAULT_PASSWORD_ENV): string {
  const password = io.env(variable);
  if (password === undefined || password === "") {
    throw new MtlsError(
      "invalid_argument",
      `No PKCS#12 password: set the environment variable "${variable}" (or name another with --password-env)`,
    );
  }
  return password;
}

/** Reads DIR/ca.crt and DIR/ca.key and checks that they belong together. */
async function loadCa(dir: string): Promise<CertificateBundle> {
  const hint = ' (run "mcp-mtls certs init" first)';
  const certPath = join(dir, "ca.crt");
  const keyPath = join(dir, "ca.key");
  const certificate =
    parseCertificates(await readInputFile(certPath, hint), { source: certPath })[0];
  const { privateKey, keyType } = await importPrivateKey(await readInputFile(keyPath, hint), {
    source: keyPath,
  });
  if (!certificate.basicConstraints?.ca) {
    throw new CertificateError(
      "invalid_certificate",
      `Certificate "${certPath}" (${certificate.subject.text}) is not a CA certificate`,
    );
  }
  if (!(await privateKeyMatchesCertificate(certificate, privateKey))) {
    throw new CertificateError(
      "key_mismatch",
      `Private key "${keyPath}" does not belong to certificate "${certPath}"`,
    );
  }
  return {
    certificate,
    certificatePem: encodePem(certificate.der, "CERTIFICATE"),
    privateKey,
    keyType,
  };
}

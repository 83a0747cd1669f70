/**
 * `mcp-mtls certs init`: a development CA with a server and a client certificate.
 *
 * @module
 */
import { join } from "node:path";
import { FileError } from "../errors.ts";
import {
  type CertificateBundle,
  createRootCa,
  issueCertificate,
  type KeyType,
  parseKeyType,
  spkiPin,
} from "../pki/mod.ts";
import { parseCommandArgs, parseDays } from "./args.ts";
import { ensureDir, exists, type PlannedFile, writeAll } from "./files.ts";
import { type CliIo, denoIo } from "./io.ts";
import { runCommand } from "./run_command.ts";

const HELP = `Usage: mcp-mtls certs init [--dir certs] [--key TYPE] [--days N] [--force]

Creates a certificate authority and one server and one client certificate:
  ca.crt ca.key server.crt server.key client.crt client.key
The server certificate names localhost, 127.0.0.1 and ::1. Private keys are
written with mode 0600; every file is written atomically.

Options:
  --dir DIR    folder to write into (created when missing)   [default: certs]
  --key TYPE   ec-p256, ec-p384, ed25519, rsa-2048, rsa-3072 or rsa-4096
                                                               [default: ec-p256]
  --days N     lifetime of all three certificates in days
                                  [default: CA 3650, server and client 365]
  --force      replace an existing CA and certificates
  -h, --help   show this help
`;

const FILES = ["ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key"];

/**
 * Runs `certs init` with `args` (the words after `certs init`).
 *
 * @param args command-line arguments
 * @param io output streams (the process's by default)
 * @returns the exit code: 0, 1 on failure, 2 on bad usage
 *
 * @example Creating development certificates in a temporary folder
 * ```ts
 * import { certsInit } from "@mtls/mcp/cli";
 * const dir = await Deno.makeTempDir();
 * const code = await certsInit(["--dir", dir]);
 * console.log(code); // 0
 * ```
 */
export function certsInit(args: string[], io: CliIo = denoIo): Promise<number> {
  return runCommand(io, async () => {
    const { values, help } = parseCommandArgs("certs init", args, {
      dir: { type: "string", default: "certs" },
      key: { type: "string", default: "ec-p256" },
      days: { type: "string" },
      force: { type: "boolean", default: false },
    });
    if (help) {
      io.stdout(HELP);
      return 0;
    }
    const dir = values.dir as string;
    const keyType = parseKeyType(values.key as string);
    const days = parseDays(values.days);
    const force = values.force as boolean;

    if (!force) await refuseExistingCa(dir);
    // Everything is made in memory first, so a failure writes nothing.
    const bundles = await makeDevelopmentSet(keyType, days);
    const files: PlannedFile[] = bundles.flatMap(([name, b]) => [
      { path: join(dir, `${name}.crt`), data: b.certificatePem, mode: 0o644 },
      { path: join(dir, `${name}.key`), data: b.privateKeyPem!, mode: 0o600 },
    ]);
    const created = await ensureDir(dir);
    await writeAll(files, { overwrite: force, createdDir: created ? dir : undefined });

    io.stdout(`Created a CA, a server and a client certificate (${keyType}) in "${dir}":\n`);
    for (const [name, b] of bundles) {
      const expires = b.certificate.notAfter.toISOString();
      const pin = await spkiPin(b.certificate);
      const file = `${name}.crt`.padEnd(11);
      io.stdout(`  ${file} ${b.certificate.subject.text}  expires ${expires}  pin ${pin}\n`);
    }
    io.stdout(`Private keys (*.key) are mode 0600; keep ca.key secret.\n`);
    return 0;
  });
}

async function refuseExistingCa(dir: string): Promise<void> {
  for (const name of FILES) {
    const path = join(dir, name);
    if (await exists(path)) {
      throw new FileError(
        "file_exists",
        `Refusing to overwrite "${path}": a CA already exists in "${dir}" (use --force to replace it)`,
        { path },
      );
    }
  }
}

/** The CA, a localhost server and a client, all with exportable keys, in file-name order. */
async function makeDevelopmentSet(
  keyType: KeyType,
  days: number | undefined,
): Promise<[string, CertificateBundle][]> {
  const ca = await createRootCa({ keyType, days, exportable: true });
  const server = await issueCertificate(ca, "server", {
    commonName: "localhost",
    subjectAltNames: "dns:localhost,ip:127.0.0.1,ip:::1",
    keyType,
    days,
    exportable: true,
  });
  const client = await issueCertificate(ca, "client", {
    commonName: "mcp-client",
    keyType,
    days,
    exportable: true,
  });
  return [["ca", ca], ["server", server], ["client", client]];
}

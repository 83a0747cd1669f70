/**
 * `mcp-mtls certs pin`: the SPKI SHA-256 pin of a certificate.
 *
 * @module
 */
import { MtlsError } from "../errors.ts";
import { parseCertificates } from "../pki/mod.ts";
import { parseCommandArgs } from "./args.ts";
import { readInputFile } from "./files.ts";
import { type CliIo, denoIo } from "./io.ts";
import { runCommand } from "./run_command.ts";

const HELP = `Usage: mcp-mtls certs pin FILE

Prints the base64 SHA-256 of the certificate's SubjectPublicKeyInfo (the
first certificate in FILE), the same value as
  openssl x509 -in FILE -pubkey -noout | openssl pkey -pubin -outform der \\
    | openssl dgst -sha256 -binary | base64

Options:
  -h, --help  show this help
`;

/**
 * Runs `certs pin` with `args` (the words after `certs pin`).
 *
 * @param args command-line arguments
 * @param io output streams (the process's by default)
 * @returns the exit code: 0, 1 on failure, 2 on bad usage
 *
 * @example Printing the pin of the development server certificate
 * ```ts
 * import { certsInit, certsPin } from "@mtls/mcp/cli";
 * const dir = await Deno.makeTempDir();
 * await certsInit(["--dir", dir]);
 * await certsPin([`${dir}/server.crt`]); // prints e.g. "q3v0...="
 * ```
 */
export function certsPin(args: string[], io: CliIo = denoIo): Promise<number> {
  return runCommand(io, async () => {
    const { positionals, help } = parseCommandArgs("certs pin", args, {}, 1);
    if (help) {
      io.stdout(HELP);
      return 0;
    }
    const file = positionals[0];
    if (file === undefined) {
      throw new MtlsError("invalid_argument", 'Missing FILE: expected "certs pin FILE"');
    }
    // The model's SPKI pin is "sha256/<base64>"; the command prints the base64, as openssl does.
    const [cert] = parseCertificates(await readInputFile(file), { source: file });
    io.stdout(`${cert.spkiPin.slice("sha256/".length)}\n`);
    return 0;
  });
}

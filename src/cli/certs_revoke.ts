/**
 * `certs revoke FILE|SERIAL [--reason R] [--dir certs] [--days N]`: records a
 * revocation in `DIR/revoked.json` and rewrites `DIR/ca.crl`, signed by
 * `DIR/ca.key`, with the next CRL number.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Certificate, readCertificate } from "../cert/certificate.ts";
import { bytesEqual, children, expectTlv, readOid } from "../cert/der.ts";
import type { DistinguishedName } from "../cert/names.ts";
import { writeFileAtomic } from "../fs/atomic_write.ts";
import { denoIo } from "./io.ts";
import { createCrl, type CrlReason, crlToPem } from "../pki/crl.ts";
import { parseCrl } from "../revocation/crl.ts";
import { pemOrDer } from "../revocation/der.ts";
import { normalizeSerial, serialOf } from "../revocation/serial.ts";
import { reasonCode, REVOCATION_REASONS } from "../revocation/types.ts";

/**
 * Where {@link certsRevoke} writes and what clock it uses; a `CliIo` fits.
 *
 * @example
 * ```ts
 * import type { CertsRevokeIo } from "@mtls/mcp/cli";
 * const io: CertsRevokeIo = { stdout: (t) => console.log(t.trimEnd()), stderr: (t) => console.error(t.trimEnd()) };
 * ```
 */
export interface CertsRevokeIo {
  /** Normal output; text as is, each line ends with a newline. @default {standard output} */
  stdout?: (text: string) => void;
  /** Errors; text as is, each line ends with a newline. @default {standard error} */
  stderr?: (text: string) => void;
  /** Clock for revocation date and CRL validity. @default {() => new Date()} */
  now?: () => Date;
}

/** Contents of `revoked.json`. */
interface RevokedState {
  version: 1;
  /** The number of the last CRL written, decimal. */
  crlNumber: string;
  revoked: { serial: string; revokedAt: string; reason?: CrlReason; subject?: string }[];
}

const HELP = `Usage: mcp-mtls certs revoke FILE|SERIAL [--reason R] [--dir certs] [--days N]

Revokes a certificate (a PEM/DER file, or a serial number in hex), records it
in DIR/revoked.json and rewrites DIR/ca.crl signed by DIR/ca.key.

Options:
  --reason R   one of: ${
  Object.values(REVOCATION_REASONS).filter((r) => r !== "removeFromCRL").join(", ")
} (default: unspecified)
  --dir DIR    certificate folder (default: certs)
  --days N     days until the CRL's nextUpdate (default: 7)
  -h, --help   show this help`;

class Failure extends Error {
  constructor(readonly exitCode: 1 | 2, message: string) {
    super(message);
  }
}

async function readOrFail(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new Failure(1, `Cannot read ${what} "${path}": ${why}`);
  }
}

const CURVE_BY_OID: Record<string, string> = {
  "1.2.840.10045.3.1.7": "P-256",
  "1.3.132.0.34": "P-384",
  "1.3.132.0.35": "P-521",
};

/** Imports a PKCS#8 PEM private key for signing, choosing the algorithm from the key itself. */
async function importSigningKey(bytes: Uint8Array, path: string): Promise<CryptoKey> {
  try {
    const der = pemOrDer(bytes, "PRIVATE KEY");
    const top = expectTlv(der, 0, 0x30);
    const alg = children(der, top)[1];
    const [oidT, params] = children(der, alg);
    const oid = readOid(der, oidT);
    const key = der.slice() as Uint8Array<ArrayBuffer>;
    if (oid === "1.2.840.10045.2.1") {
      const namedCurve = CURVE_BY_OID[readOid(der, params)];
      return await crypto.subtle.importKey("pkcs8", key, { name: "ECDSA", namedCurve }, false, [
        "sign",
      ]);
    }
    if (oid === "1.2.840.113549.1.1.1") {
      return await crypto.subtle.importKey(
        "pkcs8",
        key,
        { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
        false,
        ["sign"],
      );
    }
    if (oid === "1.3.101.112") {
      return await crypto.subtle.importKey("pkcs8", key, { name: "Ed25519" }, false, ["sign"]);
    }
    throw new Error(`unsupported key algorithm ${oid}`);
  } catch (err) {
    throw new Failure(1, `Cannot use CA key "${path}": ${(err as Error).message}`);
  }
}

async function readState(path: string): Promise<RevokedState> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") {
      return { version: 1, crlNumber: "0", revoked: [] };
    }
    throw new Failure(1, `Cannot read "${path}": ${(err as Error).message}`);
  }
  try {
    const s = JSON.parse(text) as RevokedState;
    if (s.version !== 1 || !Array.isArray(s.revoked) || !/^\d+$/.test(String(s.crlNumber))) {
      throw new Error("unexpected shape");
    }
    return s;
  } catch (err) {
    throw new Failure(
      1,
      `Cannot read "${path}": not a revocation state file (${(err as Error).message})`,
    );
  }
}

/** A name on one line, as messages and `revoked.json` show it: `CN=x, O=y`. */
function oneLine(name: DistinguishedName): string {
  return name.text.replaceAll("\n", ", ");
}

/** Resolves the target to a serial (and subject, for a file), checking it belongs to the CA. */
async function target(
  arg: string,
  ca: Certificate,
): Promise<{ serial: string; subject?: string }> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = new Uint8Array(await readFile(arg));
  } catch (err) {
    const serial = normalizeSerial(arg);
    if (serial !== undefined && !/[/\\.]/.test(arg)) return { serial };
    const code = (err as { code?: string }).code;
    throw new Failure(
      1,
      `Cannot read certificate "${arg}": ${
        code === "ENOENT" ? "no such file" : (err as Error).message
      }`,
    );
  }
  try {
    const cert = readCertificate(pemOrDer(bytes, "CERTIFICATE"));
    if (!bytesEqual(cert.issuer.der, ca.subject.der)) {
      throw new Failure(
        1,
        `Certificate "${arg}" was not issued by this CA ("${oneLine(ca.subject)}")`,
      );
    }
    return { serial: serialOf(cert), subject: oneLine(cert.subject) };
  } catch (err) {
    if (err instanceof Failure) throw err;
    throw new Failure(1, `Cannot read certificate "${arg}": ${(err as Error).message}`);
  }
}

/**
 * Runs `certs revoke` with `args` (the words after `certs revoke`); resolves
 * to the exit code: 0 done, 1 runtime failure, 2 bad usage. Nothing is
 * written unless the whole operation can succeed; each file is replaced
 * atomically.
 *
 * @example Revoking a client certificate
 * ```ts ignore
 * import { certsRevoke } from "@mtls/mcp/cli";
 * const code = await certsRevoke(["certs/client.crt", "--reason", "keyCompromise"]);
 * ```
 */
export async function certsRevoke(args: string[], io: CertsRevokeIo = {}): Promise<number> {
  const { now = () => new Date() } = io;
  const stdout = (line: string) => (io.stdout ?? denoIo.stdout)(line + "\n");
  const stderr = (line: string) => (io.stderr ?? denoIo.stderr)(line + "\n");
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        strict: true,
        options: {
          reason: { type: "string", default: "unspecified" },
          dir: { type: "string", default: "certs" },
          days: { type: "string", default: "7" },
          help: { type: "boolean", short: "h" },
        },
      });
    } catch (err) {
      // node:util's message can span lines ("ambiguous" adds two hints): keep the first.
      throw new Failure(2, `${(err as Error).message.split("\n")[0]} (see --help)`);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      stdout(HELP);
      return 0;
    }
    if (positionals.length !== 1) {
      throw new Failure(2, `Expected one FILE or SERIAL, got ${positionals.length} (see --help)`);
    }
    const code = reasonCode(values.reason);
    if (code === undefined || code === 8) {
      throw new Failure(
        2,
        `Unknown revocation reason "${values.reason}" (see --help for the list)`,
      );
    }
    const reason = REVOCATION_REASONS[code] as CrlReason;
    const days = Number(values.days);
    if (!Number.isInteger(days) || days < 1 || days > 3650) {
      throw new Failure(
        2,
        `Option "--days" must be a whole number from 1 to 3650, got "${values.days}"`,
      );
    }
    const dir = values.dir;
    const caPath = join(dir, "ca.crt");
    const keyPath = join(dir, "ca.key");
    const crlPath = join(dir, "ca.crl");
    const statePath = join(dir, "revoked.json");

    let ca: Certificate;
    const caBytes = await readOrFail(caPath, "CA certificate");
    try {
      ca = readCertificate(pemOrDer(caBytes, "CERTIFICATE"));
    } catch (err) {
      throw new Failure(1, `Cannot read CA certificate "${caPath}": ${(err as Error).message}`);
    }
    const privateKey = await importSigningKey(await readOrFail(keyPath, "CA key"), keyPath);
    const { serial, subject } = await target(positionals[0], ca);
    const state = await readState(statePath);
    if (state.revoked.some((r) => r.serial === serial)) {
      stdout(`Serial "${serial}" is already revoked; "${crlPath}" unchanged`);
      return 0;
    }
    // The CRL number must increase even if the state file was lost or the CRL was made elsewhere.
    let last = BigInt(state.crlNumber);
    try {
      const existing = parseCrl(await readFile(crlPath), crlPath).crlNumber;
      if (existing !== undefined && existing > last) last = existing;
    } catch { /* no usable CRL yet */ }
    const at = now();
    state.revoked.push({ serial, revokedAt: at.toISOString(), reason, subject });
    state.crlNumber = String(last + 1n);
    const der = await createCrl(
      { certificate: ca, privateKey },
      state.revoked.map((r) => ({
        serialNumber: r.serial,
        revocationDate: new Date(r.revokedAt),
        reason: r.reason,
      })),
      { crlNumber: last + 1n, thisUpdate: at, validity: days * 86_400_000 },
    ).catch((err) => {
      throw new Failure(1, `Cannot sign CRL with "${keyPath}": ${(err as Error).message}`);
    });
    // State first: if the CRL write then fails, the next run still includes this revocation.
    await writeFileAtomic(statePath, JSON.stringify(state, null, 2) + "\n");
    await writeFileAtomic(crlPath, crlToPem(der));
    const next = new Date(at.getTime() + days * 86_400_000).toISOString();
    stdout(
      `Revoked serial "${serial}"${
        subject ? ` (${subject})` : ""
      }, reason ${reason}; wrote "${crlPath}" (CRL number ${state.crlNumber}, ${state.revoked.length} entries, next update ${next})`,
    );
    return 0;
  } catch (err) {
    if (err instanceof Failure) {
      stderr(err.message);
      return err.exitCode;
    }
    stderr((err as Error).message);
    return 1;
  }
}

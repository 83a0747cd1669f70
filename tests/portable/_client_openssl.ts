/**
 * Server certificates made by the real `openssl` (names and shapes our own
 * PKI refuses to issue: no SAN, several CNs, partial-label wildcards, weak
 * keys and signatures) and `openssl verify`'s verdict on them, for the client
 * tests on Deno, Node.js and Bun. Only `node:` built-ins: `openssl` runs as a
 * child process.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate and its key, PEM. */
export interface OpensslPair {
  cert: string;
  key: string;
}

/** One server certificate to make. */
export interface OpensslServerSpec {
  /** `-subj` value, e.g. `/CN=evil.example/CN=localhost`. */
  subject: string;
  /** subjectAltName value, e.g. `DNS:ba*.example.com,IP:127.0.0.1`; none when absent. */
  san?: string;
  /** `ec` (P-256) or `rsa:BITS`. @default {"ec"} */
  key?: string;
  /** Signature digest. @default {"sha256"} */
  digest?: "sha256" | "sha1";
  /** extendedKeyUsage value; for a CA none unless given. @default {"serverAuth"} */
  eku?: string;
  /** The name of an earlier spec, a CA, that signs this one. @default {the root CA} */
  issuer?: string;
  /** Makes an intermediate CA (keyCertSign), with this pathLenConstraint when given. */
  ca?: { pathlen?: number };
  /** More extension lines for `-extfile`, e.g. an unknown critical extension. */
  extensions?: string[];
}

/** A CA made by openssl, the server certificates it signed, and a folder-free copy of both. */
export interface OpensslServerCerts {
  /** The CA certificate, PEM. */
  ca: string;
  /** The CA's certificate and key, for signing more. */
  caPair: OpensslPair;
  leaves: Record<string, OpensslPair>;
}

function run(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("openssl", args, { cwd }, (error, stdout, stderr) => {
      if (error) reject(new Error(`openssl ${args.join(" ")} failed: ${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Runs `fn` in a fresh temporary folder, removed afterwards. */
async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "mcp-mtls-openssl-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const keyArgs = (key = "ec") =>
  key === "ec" ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] : ["-newkey", key];

/**
 * A root CA (EC P-256, SHA-256) and one certificate per spec, in order: a
 * server certificate (not a CA, keyUsage digitalSignature and
 * keyEncipherment) or, with `ca`, an intermediate CA; valid for two days,
 * made with `openssl req` and `openssl x509 -req`. Nothing stays on disk.
 */
export function opensslServerCerts(
  specs: Record<string, OpensslServerSpec>,
): Promise<OpensslServerCerts> {
  return inTempDir(async (dir) => {
    await run([
      "req",
      "-x509",
      ...keyArgs(),
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-subj",
      "/CN=OpenSSL Server Test CA",
      "-days",
      "3",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ], dir);
    const leaves: Record<string, OpensslPair> = {};
    for (const [name, spec] of Object.entries(specs)) {
      await run([
        "req",
        "-new",
        ...keyArgs(spec.key),
        "-nodes",
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.csr`,
        "-subj",
        spec.subject,
      ], dir);
      const pathlen = spec.ca?.pathlen === undefined ? "" : `,pathlen:${spec.ca.pathlen}`;
      const ext = spec.ca
        ? [
          `basicConstraints=critical,CA:TRUE${pathlen}`,
          "keyUsage=critical,keyCertSign,cRLSign",
          ...(spec.eku ? [`extendedKeyUsage=${spec.eku}`] : []),
        ]
        : [
          "basicConstraints=critical,CA:FALSE",
          "keyUsage=critical,digitalSignature,keyEncipherment",
          `extendedKeyUsage=${spec.eku ?? "serverAuth"}`,
          ...(spec.san ? [`subjectAltName=${spec.san}`] : []),
        ];
      ext.push(...spec.extensions ?? []);
      await writeFile(join(dir, `${name}.ext`), ext.join("\n") + "\n");
      const issuer = spec.issuer ?? "ca";
      await run([
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        `${issuer}.crt`,
        "-CAkey",
        `${issuer}.key`,
        "-CAcreateserial",
        "-days",
        "2",
        `-${spec.digest ?? "sha256"}`,
        "-extfile",
        `${name}.ext`,
        "-out",
        `${name}.crt`,
      ], dir);
      leaves[name] = {
        cert: await readFile(join(dir, `${name}.crt`), "utf8"),
        key: await readFile(join(dir, `${name}.key`), "utf8"),
      };
    }
    const ca = await readFile(join(dir, "ca.crt"), "utf8");
    return { ca, caPair: { cert: ca, key: await readFile(join(dir, "ca.key"), "utf8") }, leaves };
  });
}

/** What {@link opensslVerifyServer} adds to `openssl verify -purpose sslserver`. */
export interface OpensslVerifyOptions {
  /** Checked with `flag` when given. */
  host?: string;
  /** @default {"-verify_hostname"} */
  flag?: "-verify_hostname" | "-verify_ip";
  /** Intermediates (PEM) for `-untrusted`. */
  untrusted?: string;
  /** More arguments, e.g. `["-auth_level", "1"]`. */
  args?: string[];
}

/**
 * `openssl verify -purpose sslserver` of `cert` against `ca`, with the name
 * check and intermediates of `options`: whether it accepts, and what it printed.
 */
export function opensslVerifyServer(
  ca: string,
  cert: string,
  options: OpensslVerifyOptions = {},
): Promise<{ ok: boolean; output: string }> {
  const { host, flag = "-verify_hostname", untrusted, args: extra = [] } = options;
  return inTempDir(async (dir) => {
    await writeFile(join(dir, "ca.crt"), ca);
    await writeFile(join(dir, "leaf.crt"), cert);
    if (untrusted) await writeFile(join(dir, "untrusted.crt"), untrusted);
    const args = [
      "verify",
      "-CAfile",
      "ca.crt",
      ...(untrusted ? ["-untrusted", "untrusted.crt"] : []),
      "-purpose",
      "sslserver",
      ...extra,
      ...(host === undefined ? [] : [flag, host]),
      "leaf.crt",
    ];
    return await new Promise((resolve) => {
      execFile("openssl", args, { cwd: dir }, (error, stdout, stderr) => {
        resolve({ ok: !error && stdout.trim() === "leaf.crt: OK", output: stdout + stderr });
      });
    });
  });
}

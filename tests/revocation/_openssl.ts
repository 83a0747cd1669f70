// Test fixtures made by the real `openssl` binary: a tiny `openssl ca`, its
// index.txt, CRLs from `openssl ca -gencrl`, and an `openssl ocsp` responder.

export async function openssl(args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`openssl ${args.join(" ")} failed:\n${text}`);
  return text;
}

export interface OpensslCa {
  dir: string;
  name: string;
  /** Issue a leaf through `openssl ca` (recorded in index.txt); returns its DER and serial. */
  issue(cn: string): Promise<{ der: Uint8Array; serial: string; path: string }>;
  /** Issue a leaf outside `openssl ca` (not in index.txt: OCSP says unknown). */
  issueUnrecorded(cn: string, serialHex: string): Promise<{ der: Uint8Array; path: string }>;
  /** Issue an OCSP responder certificate (OCSPSigning EKU). */
  issueResponder(cn: string): Promise<{ cert: string; key: string }>;
  revoke(path: string, reason?: string): Promise<void>;
  /**
   * Names `url` as the OCSP responder (authorityInfoAccess) of leaves issued
   * from now on: start the responder first, then issue, so that the URL holds
   * the port the responder really listens on.
   */
  setOcspUrl(url: string): Promise<void>;
  /** `openssl ca -gencrl`; returns the PEM path. */
  gencrl(opts?: { hours?: number; days?: number }): Promise<string>;
  caDer: Uint8Array;
  caPath: string;
  keyPath: string;
}

const pemToDer = (pem: string): Uint8Array => {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s/g, "");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
};

export async function makeOpensslCa(
  root: string,
  name: string,
  urls: { ocsp?: string; crl?: string } = {},
): Promise<OpensslCa> {
  const dir = `${root}/${name}`;
  await Deno.mkdir(`${dir}/newcerts`, { recursive: true });
  await Deno.writeTextFile(`${dir}/index.txt`, "");
  await Deno.writeTextFile(`${dir}/serial`, "1000\n");
  await Deno.writeTextFile(`${dir}/crlnumber`, "01\n");
  const aia = [
    urls.ocsp ? `authorityInfoAccess = OCSP;URI:${urls.ocsp}` : "",
    urls.crl ? `crlDistributionPoints = URI:${urls.crl}` : "",
  ].join("\n");
  await Deno.writeTextFile(
    `${dir}/ca.cnf`,
    `[ ca ]
default_ca = CA_default
[ CA_default ]
dir = ${dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/ca.crt
private_key = $dir/ca.key
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 30
default_crl_days = 7
policy = policy_any
unique_subject = no
[ policy_any ]
commonName = supplied
[ req ]
distinguished_name = dn
[ dn ]
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ leaf ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = clientAuth, serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
${aia}
[ responder ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = OCSPSigning
[ crl_ext ]
authorityKeyIdentifier = keyid
`,
  );
  const cnf = `${dir}/ca.cnf`;
  await openssl([
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    "ca.key",
  ], dir);
  await openssl([
    "req",
    "-x509",
    "-new",
    "-key",
    "ca.key",
    "-subj",
    `/CN=${name}`,
    "-days",
    "30",
    "-config",
    cnf,
    "-extensions",
    "v3_ca",
    "-out",
    "ca.crt",
  ], dir);
  const csr = async (cn: string) => {
    await openssl([
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      `${cn}.key`,
    ], dir);
    await openssl([
      "req",
      "-new",
      "-key",
      `${cn}.key`,
      "-subj",
      `/CN=${cn}`,
      "-config",
      cnf,
      "-out",
      `${cn}.csr`,
    ], dir);
  };
  const ca: OpensslCa = {
    dir,
    name,
    caPath: `${dir}/ca.crt`,
    keyPath: `${dir}/ca.key`,
    caDer: pemToDer(await Deno.readTextFile(`${dir}/ca.crt`)),
    async issue(cn) {
      await csr(cn);
      await openssl([
        "ca",
        "-batch",
        "-config",
        cnf,
        "-extensions",
        "leaf",
        "-notext",
        "-in",
        `${cn}.csr`,
        "-out",
        `${cn}.crt`,
      ], dir);
      const der = pemToDer(await Deno.readTextFile(`${dir}/${cn}.crt`));
      const serial = (await openssl(["x509", "-in", `${cn}.crt`, "-noout", "-serial"], dir))
        .trim().replace("serial=", "").toLowerCase().replace(/^0+/, "");
      return { der, serial, path: `${dir}/${cn}.crt` };
    },
    async issueUnrecorded(cn, serialHex) {
      await csr(cn);
      await openssl([
        "x509",
        "-req",
        "-in",
        `${cn}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        `0x${serialHex}`,
        "-days",
        "30",
        "-extfile",
        cnf,
        "-extensions",
        "leaf",
        "-out",
        `${cn}.crt`,
      ], dir);
      return {
        der: pemToDer(await Deno.readTextFile(`${dir}/${cn}.crt`)),
        path: `${dir}/${cn}.crt`,
      };
    },
    async issueResponder(cn) {
      await csr(cn);
      await openssl([
        "ca",
        "-batch",
        "-config",
        cnf,
        "-extensions",
        "responder",
        "-notext",
        "-in",
        `${cn}.csr`,
        "-out",
        `${cn}.crt`,
      ], dir);
      return { cert: `${dir}/${cn}.crt`, key: `${dir}/${cn}.key` };
    },
    async setOcspUrl(url) {
      const text = (await Deno.readTextFile(cnf)).replace(/^authorityInfoAccess = .*\n/m, "");
      await Deno.writeTextFile(
        cnf,
        text.replace("[ leaf ]\n", `[ leaf ]\nauthorityInfoAccess = OCSP;URI:${url}\n`),
      );
    },
    async revoke(path, reason = "keyCompromise") {
      await openssl(["ca", "-batch", "-config", cnf, "-revoke", path, "-crl_reason", reason], dir);
    },
    async gencrl(opts = {}) {
      const when = opts.hours !== undefined
        ? ["-crlhours", String(opts.hours)]
        : ["-crldays", String(opts.days ?? 7)];
      await openssl([
        "ca",
        "-batch",
        "-config",
        cnf,
        "-gencrl",
        "-crlexts",
        "crl_ext",
        ...when,
        "-out",
        "ca.crl",
      ], dir);
      return `${dir}/ca.crl`;
    },
  };
  return ca;
}

export interface Responder {
  url: string;
  /**
   * Makes the answers current after `openssl ca` changed index.txt (an issue
   * or a revocation): openssl re-reads the index only before it waits for its
   * next connection, so this sends it one request of its own first.
   */
  sync(): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

/**
 * Starts `openssl ocsp` on an ephemeral port (`-port 0`), reads the port it
 * bound from its `ACCEPT` line and waits until it accepts connections. It
 * re-reads index.txt when `openssl ca` replaces it, so certificates issued or
 * revoked after the start are answered too.
 */
export async function startResponder(
  ca: Pick<OpensslCa, "dir" | "caPath">,
  signer: { cert: string; key: string },
  extra: string[] = [],
): Promise<Responder> {
  const child = new Deno.Command("openssl", {
    args: [
      "ocsp",
      "-index",
      `${ca.dir}/index.txt`,
      "-port",
      "0",
      "-rsigner",
      signer.cert,
      "-rkey",
      signer.key,
      "-CA",
      ca.caPath,
      "-nmin",
      "10",
      "-ignore_err",
      ...extra,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await drained;
  };
  // openssl 3.0's responder spins on a connection closed without a request, so
  // readiness is read from its log lines ("ACCEPT [::]:PORT", then "waiting
  // for OCSP client connections") instead of probing the port.
  let log = "";
  let port = 0;
  let ready!: () => void;
  const isReady = new Promise<void>((r) => ready = r);
  const drain = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of s) {
      log += dec.decode(chunk);
      port ||= Number(/^ACCEPT \S+:(\d+)/m.exec(log)?.[1] ?? 0);
      if (port && log.includes("waiting for OCSP client connections")) ready();
    }
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  let timeoutId: ReturnType<typeof setTimeout> | undefined;
  const timer = new Promise<"timeout">((r) => timeoutId = setTimeout(() => r("timeout"), 5000));
  const t = await Promise.race([isReady, timer, child.status]);
  clearTimeout(timeoutId);
  if (t === undefined) {
    const url = `http://127.0.0.1:${port}`;
    const sync = async () => {
      // Any well-formed request will do; its answer (unknown serial) does not matter.
      const out = await new Deno.Command("openssl", {
        args: ["ocsp", "-issuer", ca.caPath, "-serial", "0x1", "-url", url, "-noverify"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      if (!/^0x1: /m.test(text)) throw new Error(`openssl ocsp at ${url} did not answer:\n${text}`);
    };
    return { url, sync, stop, log: () => log };
  }
  await stop();
  throw new Error(`openssl ocsp did not start:\n${log}`);
}

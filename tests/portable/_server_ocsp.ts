/**
 * A real `openssl ocsp` responder for the portable server tests, started on
 * port 0 (the port read back from its `ACCEPT` line: no "free port" race)
 * with an index.txt written by us, answering for certificates our PKI issues
 * with the serials named in that index. Only `node:` built-ins.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type CertificateBundle, issueCertificate } from "../../src/pki/mod.ts";

/** A running responder. */
export interface OcspResponder {
  /** `http://127.0.0.1:PORT`, for a certificate's OCSP URL. */
  url: string;
  /** Requests it has answered so far. */
  requests(): number;
  /** Stops it and waits for it to exit. */
  stop(): Promise<void>;
}

/** `YYMMDDHHMMSSZ`, as openssl writes times in index.txt. */
const utcTime = (d: Date) => d.toISOString().replace(/^\d\d|[-:T]|\.\d+/g, "").slice(0, 12) + "Z";

/**
 * Starts `openssl ocsp` for `ca`, signing with a delegated responder
 * certificate (ocspSigning) issued by `ca`. The index names `serials.good`
 * as valid and `serials.revoked` as revoked (keyCompromise); serials are
 * hex. Files go to `dir`.
 */
export async function startOcspResponder(
  dir: string,
  ca: CertificateBundle,
  serials: { good: string; revoked: string },
): Promise<OcspResponder> {
  const signer = await issueCertificate(ca, "client", {
    commonName: "Portable OCSP Responder",
    extendedKeyUsage: ["ocspSigning"],
    exportable: true,
  });
  const file = (name: string) => join(dir, name);
  await writeFile(file("ocsp_ca.crt"), ca.certificatePem);
  await writeFile(file("ocsp_signer.crt"), signer.certificatePem);
  await writeFile(file("ocsp_signer.key"), signer.privateKeyPem!, { mode: 0o600 });
  const expires = utcTime(new Date(Date.now() + 30 * 86_400_000));
  const revokedAt = utcTime(new Date(Date.now() - 60_000));
  await writeFile(
    file("ocsp_index.txt"),
    `V\t${expires}\t\t${serials.good.toUpperCase()}\tunknown\t/CN=ocsp-good\n` +
      `R\t${expires}\t${revokedAt},keyCompromise\t${serials.revoked.toUpperCase()}\tunknown\t/CN=ocsp-revoked\n`,
  );
  const child: ChildProcess = spawn("openssl", [
    "ocsp",
    "-index",
    file("ocsp_index.txt"),
    "-port",
    "0",
    "-rsigner",
    file("ocsp_signer.crt"),
    "-rkey",
    file("ocsp_signer.key"),
    "-CA",
    file("ocsp_ca.crt"),
    "-nmin",
    "10",
    "-ignore_err",
    "-text",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let log = "";
  const stop = async () => {
    child.kill("SIGTERM");
    await exited;
    child.stdout!.destroy();
    child.stderr!.destroy();
  };
  try {
    // openssl 3.0's responder spins on a connection closed without a request, so
    // readiness comes from its log, never from probing the port.
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`openssl ocsp did not start: ${log}`)),
        10_000,
      );
      const read = (chunk: Buffer) => {
        log += chunk;
        const m = /ACCEPT \S*:(\d+)/.exec(log);
        if (m && log.includes("waiting for OCSP client connections")) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      child.stdout!.on("data", read);
      child.stderr!.on("data", read);
      child.once("exit", () => {
        clearTimeout(timer);
        reject(new Error(`openssl ocsp exited: ${log}`));
      });
    });
    return {
      url: `http://127.0.0.1:${port}`,
      requests: () => log.split("OCSP Request Data:").length - 1,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

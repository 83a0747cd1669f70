/** Certificates made by openssl for the pin tests, and openssl's own view of their pins. */
import { Buffer } from "node:buffer";

export const KEY_TYPES = {
  "ec-p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
  "rsa-2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
  "ed25519": ["-algorithm", "ED25519"],
} as const;
export type FixtureKey = keyof typeof KEY_TYPES;

export interface FixtureCert {
  /** PEM file path. */
  crt: string;
  /** PEM private key path. */
  key: string;
  der: Uint8Array;
  /** `openssl x509 -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64` */
  opensslSpkiPin: string;
  /** `openssl x509 -fingerprint -sha256`, the part after "=" (upper-case hex with colons). */
  opensslFingerprint: string;
}

export async function sh(script: string, cwd: string): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    cwd,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(`${script} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Makes a self-signed certificate of `type` named `name` in `dir`. */
export async function makeCert(dir: string, name: string, type: FixtureKey): Promise<FixtureCert> {
  const crt = `${dir}/${name}.crt`, key = `${dir}/${name}.key`;
  await sh(
    `openssl genpkey ${KEY_TYPES[type].join(" ")} -out ${key} 2>/dev/null && ` +
      `openssl req -x509 -new -key ${key} -subj /CN=${name} -days 2 ` +
      `-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -out ${crt}`,
    dir,
  );
  const der = new Uint8Array(
    Buffer.from(await sh(`openssl x509 -in ${crt} -outform DER | base64 -w0`, dir), "base64"),
  );
  const opensslSpkiPin = (await sh(
    `openssl x509 -in ${crt} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`,
    dir,
  )).trim();
  const fp = await sh(`openssl x509 -in ${crt} -noout -fingerprint -sha256`, dir);
  return { crt, key, der, opensslSpkiPin, opensslFingerprint: fp.trim().split("=")[1] };
}

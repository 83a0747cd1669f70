// Secrets: private key files are 0600, and no private key or password shows up
// in any log line (debug level, detailedTls on) or any error message of a full
// run: certs init/issue --p12, serve, good and refused clients, bad reloads,
// wrong passwords, key files handed to commands that expect something else.
import assert from "node:assert/strict";
import { MtlsError } from "../../src/errors.ts";
import { main } from "../../src/cli/main.ts";
import { createLogger } from "../../src/log/mod.ts";
import {
  connectMcpClient,
  createMtlsFetch,
  demoServerFactory,
  serveMcp,
} from "../../src/mcp/mod.ts";
import {
  createRootCa,
  fromPkcs12,
  importPrivateKey,
  issueCertificate,
  parseCertificates,
} from "../../src/pki/mod.ts";
import { loadConfigFile, loadServeConfig } from "../../src/config/mod.ts";
import { PinStore } from "../../src/pins/mod.ts";

const PASSWORD = "p12-S3cret-Correct-Horse-9137";

/** Every form a leaked key could take: PEM body lines, the whole body, the JWK private parts. */
async function secretForms(keyPem: string): Promise<string[]> {
  const lines = keyPem.split("\n").filter((l) => l && !l.startsWith("-----"));
  const forms = [...lines.filter((l) => l.length >= 16), lines.join("")];
  const { privateKey } = await importPrivateKey(keyPem, { extractable: true });
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  for (const k of ["d", "p", "q", "dp", "dq", "qi"] as const) {
    const v = jwk[k];
    if (v) forms.push(v, v.replace(/-/g, "+").replace(/_/g, "/"));
  }
  return forms;
}

Deno.test({
  name: "secrets: key files are 0600 and no key or password appears in any log line or error",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rel-secrets-" });
    const lines: string[] = [];
    const errors: string[] = [];
    const io = {
      stdout: (t: string) => void lines.push(t),
      stderr: (t: string) => void errors.push(t),
      env: (k: string) => (k === "P12_PASSWORD" ? PASSWORD : undefined),
    };
    /** Runs `f`; a thrown error's message (and code) joins `errors`. */
    const expectError = async (what: string, f: () => Promise<unknown>) => {
      try {
        await f();
        errors.push(`${what}: no error`);
      } catch (e) {
        errors.push(`${what}: ${e instanceof MtlsError ? e.code : "?"}: ${(e as Error).message}`);
        const cause = (e as { cause?: unknown }).cause;
        if (cause instanceof Error) errors.push(`${what} (cause): ${cause.message}`);
      }
    };
    try {
      // 1. Files.
      assert.equal(await main(["certs", "init", "--dir", dir], io), 0, errors.join(""));
      assert.equal(
        await main(
          [
            "certs",
            "issue",
            "client",
            "bob",
            "--dir",
            dir,
            "--p12",
            "--password-env",
            "P12_PASSWORD",
          ],
          io,
        ),
        0,
        errors.join(""),
      );
      const keyFiles = ["ca.key", "server.key", "client.key", "bob.key", "bob.p12"];
      for (const f of keyFiles) {
        const mode = (await Deno.stat(`${dir}/${f}`)).mode! & 0o777;
        assert.equal(mode.toString(8), "600", `${f} is ${mode.toString(8)}`);
      }
      for (const f of ["ca.crt", "server.crt", "client.crt", "bob.crt"]) {
        assert.equal(
          (await Deno.stat(`${dir}/${f}`)).mode! & 0o077 & 0o022,
          0,
          `${f} writable by others`,
        );
      }
      const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
      const keys = {
        ca: await read("ca.key"),
        server: await read("server.key"),
        client: await read("client.key"),
        bob: await read("bob.key"),
      };
      const secrets = [PASSWORD];
      for (const k of Object.values(keys)) secrets.push(...await secretForms(k));

      // 2. A full run with every log level and detailed TLS lines.
      const log = createLogger({ level: "debug", format: "json", write: (l) => lines.push(l) });
      const ca = await read("ca.crt");
      const pins = await PinStore.open(`${dir}/pins.json`, { tofu: true });
      const server = await serveMcp(
        demoServerFactory,
        {
          port: 0,
          tls: { cert: await read("server.crt"), key: keys.server, ca },
          detailedTls: true,
          pins: { store: pins },
          logger: log,
        } as Parameters<typeof serveMcp>[1],
      );
      try {
        const client = await connectMcpClient(server.url, {
          cert: await read("client.crt"),
          key: keys.client,
          ca,
        });
        await client.callTool({ name: "whoami", arguments: {} });
        await client.callTool({ name: "echo", arguments: { text: "hello" } });
        await client.close();
        const other = await createRootCa({ commonName: "Intruder CA", exportable: true });
        const intruder = await issueCertificate(other, "client", {
          commonName: "intruder",
          exportable: true,
        });
        secrets.push(...await secretForms(intruder.privateKeyPem!));
        await expectError(
          "intruder",
          () =>
            connectMcpClient(server.url, {
              cert: intruder.certificatePem,
              key: intruder.privateKeyPem!,
              ca,
            }),
        );
        await expectError("no certificate", () => connectMcpClient(server.url, { ca }));
        const clientCert = await read("client.crt");
        await expectError(
          "mismatched client key",
          () => connectMcpClient(server.url, { cert: clientCert, key: keys.bob, ca }),
        );
        const truncatedKey = keys.server.slice(0, keys.server.length - 40) +
          "\n-----END PRIVATE KEY-----\n";
        await expectError("reload truncated key", () => server.reloadTls({ key: truncatedKey }));
        await expectError("reload mismatched key", () => server.reloadTls({ key: keys.ca }));
        await expectError("reload key as cert", () => server.reloadTls({ cert: keys.server }));
        await expectError("fetch with key as cert", async () => {
          const f = createMtlsFetch({ cert: keys.client, key: keys.client, ca });
          try {
            await f(server.url, { method: "POST", body: "{}" });
          } finally {
            await f.close();
          }
        });
      } finally {
        await server.close();
      }

      // 3. Error messages of parsers and commands handed secrets.
      const p12 = await Deno.readFile(`${dir}/bob.p12`);
      await expectError("p12 wrong password", () => fromPkcs12(p12, "wrong"));
      await expectError(
        "p12 password as data",
        () => fromPkcs12(new TextEncoder().encode(PASSWORD), PASSWORD),
      );
      const cut = keys.client.slice(0, 120) + keys.client.slice(140);
      await expectError("damaged key", () => importPrivateKey(cut));
      await expectError(
        "key as certificate",
        () => Promise.resolve().then(() => parseCertificates(keys.client)),
      );
      await expectError("config file that is a key", () => loadConfigFile(`${dir}/client.key`));
      await Deno.writeTextFile(`${dir}/key.json`, keys.client);
      await expectError("json config that is a key", () => loadConfigFile(`${dir}/key.json`));
      await Deno.writeTextFile(
        `${dir}/inline.yaml`,
        `tls:\n  key: |\n${
          keys.client.split("\n").map((l) => "    " + l).join("\n")
        }\n  bogus: 1\n`,
      );
      await expectError(
        "config with an inline key and a bad key",
        () => loadServeConfig({ file: `${dir}/inline.yaml`, env: {} }),
      );
      await expectError(
        "config with the password inline",
        () =>
          loadServeConfig({
            file: `${dir}/x.yaml`,
            readTextFile: () => Promise.resolve(`tls:\n  passphrase: ${PASSWORD}\n`),
            env: {},
          }),
      );
      for (
        const argv of [
          ["certs", "inspect", `${dir}/client.key`],
          ["certs", "pin", `${dir}/ca.key`],
          ["certs", "inspect", `${dir}/bob.p12`],
          ["certs", "issue", "client", "eve", "--dir", dir, "--p12", "--password-env", "NOPE"],
          ["certs", "revoke", `${dir}/client.key`, "--dir", dir],
          ["certs", "issue", "client", PASSWORD, "--dir", `${dir}/nowhere`],
        ]
      ) {
        await main(argv, io);
      }

      // 4. Look for every secret in everything collected.
      assert.ok(lines.length > 10, `only ${lines.length} log lines`);
      assert.ok(errors.length > 10, `only ${errors.length} error messages`);
      // detailedTls took effect: handshake lines name the protocol and the peer's fingerprint.
      assert.ok(lines.some((l) => /TLSv1\.3/.test(l) && /fingerprint/i.test(l)), lines.join("\n"));
      // The detector itself works: it finds each key in its own file and the password in a line.
      for (const k of Object.values(keys)) assert.ok(secrets.some((x) => k.includes(x)));
      assert.ok([`password is ${PASSWORD}`].some((l) => secrets.some((x) => l.includes(x))));
      const haystack = [...lines, ...errors];
      if (Deno.env.get("MCP_MTLS_SHOW_ERRORS")) console.log(errors.join("\n"));
      const leaks: string[] = [];
      for (const secret of secrets) {
        // The issue command above names a certificate after the password on purpose:
        // a file name is not a secret, so its own error line is allowed to echo it.
        for (const line of haystack) {
          if (
            line.includes(secret) && !line.includes(`${PASSWORD}.crt`) &&
            !line.includes(`${PASSWORD}.key`)
          ) {
            leaks.push(`${secret.slice(0, 12)}… in: ${line.slice(0, 160)}`);
          }
        }
      }
      console.log(
        `SECRETS: ${secrets.length} secret forms searched in ${lines.length} log lines and ${errors.length} error messages`,
      );
      assert.deepEqual(leaks, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// Certificates and an authorization server shared by the auth end-to-end
// tests: the client tests' PKI (tests/client/_helpers.ts) plus a second client
// of the same CA, and oidc-provider with two registered clients.
import { issueCertificate } from "../../src/pki/mod.ts";
import { type Fixtures, fixtures, type Pair } from "../client/_helpers.ts";
import { type AuthorizationServer, startAuthorizationServer } from "./_oidc_provider.ts";

export interface AuthFixtures extends Fixtures {
  /** Another client of the same CA ("agent-2"): admitted by TLS, not the token's owner. */
  agent2: Pair;
}

let cached: Promise<AuthFixtures> | undefined;

/** The client PKI plus agent-2, made once per process. */
export function authFixtures(): Promise<AuthFixtures> {
  cached ??= (async () => {
    const f = await fixtures();
    const b = await issueCertificate(f.caBundle, "client", {
      commonName: "agent-2",
      exportable: true,
    });
    return { ...f, agent2: { cert: b.certificatePem, key: b.privateKeyPem! } };
  })();
  return cached;
}

/** Scopes the MCP resource knows. */
export const SCOPES = "tools:whoami tools:admin";

/**
 * oidc-provider for `resource` (and for a second resource, `otherResource`,
 * to get tokens with another audience): client "agent-1" (subject
 * `CN=agent-1`, may ask for every scope) and client "agent-2" (`CN=agent-2`,
 * `tools:whoami` only).
 */
export async function startTestAs(
  resource: string,
  otherResource = "https://127.0.0.1:1/other",
): Promise<AuthorizationServer> {
  const f = await authFixtures();
  return await startAuthorizationServer({
    server: f.server,
    ca: f.ca,
    clients: [
      { client_id: "agent-1", scope: SCOPES, tls_client_auth_subject_dn: "CN=agent-1" },
      { client_id: "agent-2", scope: "tools:whoami", tls_client_auth_subject_dn: "CN=agent-2" },
    ],
    resources: [
      { indicator: resource, scope: SCOPES },
      { indicator: otherResource, scope: SCOPES },
    ],
  });
}

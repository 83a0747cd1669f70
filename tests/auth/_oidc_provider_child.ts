// A real OAuth 2.0 authorization server for the tests: panva's oidc-provider
// (npm, Deno runs it from its npm cache, nothing installed by hand) behind two
// node:https listeners on 127.0.0.1, run as its own process by
// tests/auth/_oidc_provider.ts. Why two listeners: RFC 8705 §5 lets a server
// keep its ordinary endpoints free of client certificates and publish mTLS
// variants as `mtls_endpoint_aliases`; the tests prove the client uses the
// alias, since the plain listener never asks for a certificate.
//
// Configuration arrives as JSON in the OIDC_CHILD_CONFIG environment variable
// (see ChildConfig in _oidc_provider.ts). The first stdout line is
// `{"issuer":...,"mtlsOrigin":...}` once both listeners accept.
import Provider, { errors } from "npm:oidc-provider@9.13.3";
import https from "node:https";
import crypto from "node:crypto";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { IncomingMessage, ServerResponse } from "node:http";

interface ChildClient {
  client_id: string;
  scope: string;
  tls_client_auth_subject_dn?: string;
  tls_client_auth_san_uri?: string;
  tls_client_auth_san_dns?: string;
  bound?: boolean;
}

interface ChildResource {
  indicator: string;
  scope: string;
  ttlSeconds?: number;
}

interface ChildConfig {
  cert: string;
  key: string;
  ca: string;
  clients: ChildClient[];
  resources: ChildResource[];
}

const config = JSON.parse(Deno.env.get("OIDC_CHILD_CONFIG") ?? "{}") as ChildConfig;

// oidc-provider prints "WARNING: Unsupported runtime" and development hints on
// stderr; the parent collects stderr for failure messages only.

const signing = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const jwk = {
  ...signing.privateKey.export({ format: "jwk" }),
  kid: "as-1",
  use: "sig",
  alg: "ES256",
};

function peerCertificate(ctx: { req: IncomingMessage }): crypto.X509Certificate | undefined {
  const socket = ctx.req.socket as TLSSocket;
  const peer = socket.getPeerCertificate?.(false);
  if (!peer || !peer.raw || peer.raw.length === 0) return undefined;
  return new crypto.X509Certificate(peer.raw);
}

/** RFC 4514 string of a certificate subject, most significant RDN last, as RFC 8705 §2.1.2 compares it. */
function subjectDn(cert: crypto.X509Certificate): string {
  return cert.subject.split("\n").reverse().join(",");
}

function sans(cert: crypto.X509Certificate, prefix: string): string[] {
  return (cert.subjectAltName ?? "").split(", ").filter((s) => s.startsWith(`${prefix}:`)).map((
    s,
  ) => s.slice(prefix.length + 1));
}

const plain = https.createServer({ cert: config.cert, key: config.key });
const mtls = https.createServer({
  cert: config.cert,
  key: config.key,
  ca: config.ca,
  requestCert: true,
  // Verified by oidc-provider's certificateAuthorized hook (socket.authorized), so
  // an unknown certificate gets an OAuth error body, not a TLS alert.
  rejectUnauthorized: false,
});
const listen = (s: https.Server) =>
  new Promise<number>((resolve) =>
    s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port))
  );
const plainPort = await listen(plain);
const mtlsPort = await listen(mtls);
const issuer = `https://127.0.0.1:${plainPort}`;
const mtlsOrigin = `https://127.0.0.1:${mtlsPort}`;

// An indicator may use "*" for the port: the MCP server under test binds port 0
// after this server started, so its URL is not known yet.
const resources = config.resources.map((r) => ({
  ...r,
  match: new RegExp(
    `^${r.indicator.replace(/[.?+^$()[\]{}|\\/]/g, "\\$&").replace("*", "[0-9]+")}$`,
  ),
}));
const findResource = (indicator: string) => resources.find((r) => r.match.test(indicator));

const provider = new Provider(issuer, {
  jwks: { keys: [jwk] },
  clients: config.clients.map((c) => ({
    client_id: c.client_id,
    scope: c.scope,
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: "tls_client_auth",
    ...(c.tls_client_auth_subject_dn
      ? { tls_client_auth_subject_dn: c.tls_client_auth_subject_dn }
      : {}),
    ...(c.tls_client_auth_san_uri ? { tls_client_auth_san_uri: c.tls_client_auth_san_uri } : {}),
    ...(c.tls_client_auth_san_dns ? { tls_client_auth_san_dns: c.tls_client_auth_san_dns } : {}),
    tls_client_certificate_bound_access_tokens: c.bound ?? true,
  })),
  // The only method offered: a client proves itself by its certificate.
  clientAuthMethods: ["tls_client_auth"],
  // Our only signing key is P-256; oidc-provider's client default is RS256.
  clientDefaults: { id_token_signed_response_alg: "ES256" },
  scopes: [...new Set(config.resources.flatMap((r) => r.scope.split(" ")))],
  discovery: {
    // RFC 8705 §5: the token endpoint that asks for a client certificate.
    mtls_endpoint_aliases: { token_endpoint: `${mtlsOrigin}/token` },
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    mTLS: {
      enabled: true,
      certificateBoundAccessTokens: true,
      tlsClientAuth: true,
      getCertificate: (ctx: { req: IncomingMessage }) => peerCertificate(ctx),
      certificateAuthorized: (ctx: { req: IncomingMessage }) =>
        (ctx.req.socket as TLSSocket).authorized === true,
      certificateSubjectMatches: (
        ctx: { req: IncomingMessage },
        property: string,
        expected: string,
      ) => {
        const cert = peerCertificate(ctx);
        if (!cert) return false;
        switch (property) {
          case "tls_client_auth_subject_dn":
            return subjectDn(cert) === expected;
          case "tls_client_auth_san_uri":
            return sans(cert, "URI").includes(expected);
          case "tls_client_auth_san_dns":
            return sans(cert, "DNS").includes(expected);
          default:
            return false;
        }
      },
    },
    resourceIndicators: {
      enabled: true,
      // No default audience: every token request must name the resource (RFC 8707).
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx: unknown, indicator: string) => {
        const r = findResource(indicator);
        if (!r) throw new errors.InvalidTarget();
        return {
          scope: r.scope,
          audience: indicator,
          accessTokenTTL: r.ttlSeconds ?? 300,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "ES256" } },
        };
      },
    },
  },
});

const callback = provider.callback() as (req: IncomingMessage, res: ServerResponse) => void;
plain.on("request", callback);
mtls.on("request", callback);
for (const s of [plain, mtls]) s.on("tlsClientError", () => {});

console.log(JSON.stringify({ issuer, mtlsOrigin }));

const stop = () => {
  plain.closeAllConnections?.();
  mtls.closeAllConnections?.();
  plain.close();
  mtls.close();
};
Deno.addSignalListener("SIGTERM", () => {
  stop();
  Deno.exit(0);
});
// The parent closing our stdin also stops us (it may die without a signal).
(async () => {
  for await (const _ of Deno.stdin.readable) { /* wait for EOF */ }
  stop();
  Deno.exit(0);
})();

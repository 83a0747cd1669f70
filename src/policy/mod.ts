/**
 * Verification policies for client certificates (`strict`, `demo`, a custom
 * hook), the peer identity taken from a certificate, and authorization rules
 * deciding which identities may call which tools. Everything here is
 * compiled once and then runs per connection without parsing or I/O.
 *
 * @example Compile rules once, decide per identity
 * ```ts
 * import { compileAuthorization } from "@mtls/mcp/policy";
 *
 * const authorize = compileAuthorization({
 *   rules: [{ identity: "spiffe://example.org/*", tools: ["whoami", "echo*"] }],
 * });
 * const mayCall = authorize(undefined); // anonymous peer
 * console.log(mayCall("whoami")); // false
 * ```
 *
 * @module
 */
export { compilePolicy, parseCaCertificates } from "./policy.ts";
export type {
  CertificateVerdict,
  CompiledPolicy,
  CompilePolicyOptions,
  CustomPolicy,
  PolicyContext,
  PolicyOption,
} from "./policy.ts";
export { identityLabel, peerIdentity } from "./identity.ts";
export type { PeerIdentity, PeerSubjectAltNames } from "./identity.ts";
// The certificates policies read are the model's (`@mtls/mcp/cert`).
export type { Certificate, SubjectAltNames } from "../cert/mod.ts";
export {
  checkClientUsage,
  checkValidity,
  OID_CLIENT_AUTH,
  verifyClientChain,
} from "./verify_chain.ts";
export type { ChainResult, Refusal, VerifyChainOptions } from "./verify_chain.ts";
export { compileAuthorization } from "./authorization.ts";
export type {
  AuthorizationOptions,
  AuthorizationRule,
  Authorizer,
  TokenGrant,
  ToolPermission,
} from "./authorization.ts";
export { compileGlob } from "./glob.ts";
export { checkHostName } from "./host_name.ts";
export type { HostNameMismatch, PresentedNames } from "./host_name.ts";
export { checkNameConstraints } from "./name_constraints.ts";
export type { CheckNameConstraintsOptions } from "./name_constraints.ts";
export { verifyServerChain } from "./verify_server_chain.ts";
export type { ServerChainOptions } from "./verify_server_chain.ts";

/**
 * Trust anchors are checked when they are loaded (at start and at every
 * reload), not first when a client uses them: a configured CA that could
 * never vouch for a client is a configuration error with one clear line,
 * rather than a refusal of every client later.
 *
 * Runtime-neutral (certificates of the model).
 *
 * @module
 */

import type { Certificate } from "../cert/certificate.ts";
import { nameConstraintsProblem } from "./name_constraints.ts";
import { lacksKeyCertSign, unprocessedCriticalExtension } from "./verify_chain.ts";

/**
 * Why `anchor` cannot be a trust anchor for client certificates, as the end
 * of a sentence that starts `Option "tls.ca" holds `, or `undefined` when it
 * can. Refused: a certificate that is not a CA (basicConstraints cA unset), a
 * CA whose keyUsage lacks keyCertSign, a critical extension we do not process
 * (RFC 5280 §4.2: it must then be rejected), policyConstraints even when not
 * critical (no policy tree here: every chain through it would be refused),
 * and a malformed nameConstraints extension. A weak key is left to the chain
 * checks, which name it precisely per client (`weak_key`).
 *
 * @example
 * ```ts ignore
 * const problem = trustAnchorProblem(ca);
 * if (problem) throw new ConfigError(`Option "tls.ca" holds ${problem}`);
 * ```
 */
export function trustAnchorProblem(anchor: Certificate): string | undefined {
  const subject = anchor.subject.text.split("\n").join(", ");
  if (!anchor.basicConstraints?.ca) {
    return `"${subject}", which is not a CA certificate (basicConstraints cA is not set)`;
  }
  const ca = `CA certificate "${subject}"`;
  if (lacksKeyCertSign(anchor)) return `${ca}, whose key usage does not allow keyCertSign`;
  const critical = unprocessedCriticalExtension(anchor);
  if (critical) return `${ca} with critical extension ${critical}, which is not supported`;
  if (anchor.hasPolicyConstraints) {
    return `${ca} with policyConstraints (2.5.29.36), which is not supported: every chain through it would be refused`;
  }
  const nc = nameConstraintsProblem(anchor);
  if (nc) return `${ca} with a malformed nameConstraints extension: ${nc}`;
  return undefined;
}

/**
 * The client's revocation check of the server certificate: the chain the TLS
 * stack verified, read from the socket, handed to a {@link RevocationChecker}
 * before the connection is given to undici, so no request leaves before the
 * verdict. A fresh cached answer decides without waiting on the network.
 *
 * Bun's fetch shows `checkServerIdentity` the leaf alone and cannot wait for
 * a promise there: {@link ServerRevocationCheck.verifyCached} decides from
 * cached answers (the leaf's issuer taken from the `ca` option or the
 * checker's `issuers`), or says `pending`, and
 * {@link ServerRevocationCheck.prefetch} asks the sources before the caller
 * tries again.
 *
 * @module
 */
import type tls from "node:tls";
import { type Certificate, readCertificate } from "../../cert/certificate.ts";
import { bytesEqual } from "../../cert/der.ts";
import { namesIssuer, signedBy } from "../../cert/verify_signature.ts";
import { ConfigError, MtlsError, PeerRejectedError } from "../../errors.ts";
import { LruMap } from "../../limits/lru.ts";
import type { Logger } from "../../log/logger.ts";
import { createRevocationChecker } from "../../revocation/checker.ts";
import type {
  RevocationChecker,
  RevocationCheckerOptions,
} from "../../revocation/checker_options.ts";
import { serialOf } from "../../revocation/serial.ts";
import type { RevocationVerdict } from "../../revocation/types.ts";

/** Revocation checking of servers, ready for the connector. */
export interface ServerRevocationCheck {
  /** Resolves when the server on `socket` may be used; rejects with `revoked` or `revocation_unknown`. */
  verify(socket: tls.TLSSocket, peer: string): Promise<void>;
  /** Resolves when the configured CRLs have loaded once (or failed to). */
  readonly ready: Promise<void>;
  /**
   * Synchronous and without I/O, for a stack that shows only the leaf:
   * `undefined` when the server may be used, `"pending"` when a source must
   * be asked first ({@link prefetch}); throws `revoked` or `revocation_unknown`.
   */
  verifyCached(leaf: Uint8Array, peer: string): "pending" | undefined;
  /** Asks the sources about `leaf` (and, with intermediates, its chain); the next {@link verifyCached} uses the answers. */
  prefetch(leaf: Uint8Array, peer: string): Promise<void>;
  /** Stops the checker's refresh timer when the client made it (not for a checker passed in). */
  close(): void;
}

interface Link {
  der: Uint8Array;
  cert: Certificate;
}

/** Validates the `revocation` option once; `undefined` when revocation is not checked. */
export function resolveRevocationOption(
  value: RevocationCheckerOptions | RevocationChecker | undefined,
  intermediates: unknown,
  ca: readonly string[] | undefined,
  logger: Logger,
): ServerRevocationCheck | undefined {
  if (typeof intermediates !== "boolean") {
    throw new ConfigError(
      `Option "revocationIntermediates" must be true or false, got "${intermediates}"`,
      { key: "revocationIntermediates" },
    );
  }
  if (value === undefined) {
    if (intermediates) {
      throw new ConfigError('Option "revocationIntermediates" needs "revocation"', {
        key: "revocationIntermediates",
      });
    }
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(
      'Option "revocation" must be revocation checker options or a checker from createRevocationChecker()',
      { key: "revocation" },
    );
  }
  const given = isChecker(value);
  const checker = given ? value : makeChecker(value, logger);
  // Parsed once: the checker caches parsed certificates by their bytes.
  const issuers = given ? [] : (value as RevocationCheckerOptions).issuers ?? [];
  const anchors = [...(ca ?? []), ...issuers].flatMap(toLink);
  // Answers fetched for a retry, each deciding for FRESH_MS.
  const fresh = new LruMap<RevocationVerdict>({ max: 64 });
  /** The certificates to check, each with its issuer: the leaf, and with intermediates the CAs up to the anchor. */
  const pairs = (chain: Link[]): [Link, Link | undefined][] => {
    const out: [Link, Link | undefined][] = [];
    const last = intermediates ? chain.length : 1;
    for (let n = 0; n < last; n++) {
      if (n > 0 && isSelfIssued(chain[n].cert)) break; // the trust anchor itself is not checked
      out.push([chain[n], chain[n + 1]]);
    }
    return out;
  };
  const leafChain = (leaf: Uint8Array): Link[] => completeChain(toLink(leaf), anchors);
  return {
    async verify(socket, peer) {
      const sent = sentChain(socket);
      if (sent === undefined) {
        throw new PeerRejectedError(
          "revocation_unknown",
          `Server "${peer}" sent a certificate that cannot be read`,
          { peer },
        );
      }
      const chain = completeChain(sent, anchors);
      if (chain.length === 0) {
        throw new PeerRejectedError("revocation_unknown", `Server "${peer}" sent no certificate`, {
          peer,
        });
      }
      for (const [subject, issuer] of pairs(chain)) {
        await verifyOne(checker, subject, issuer, peer);
      }
    },
    ready: checker.ready,
    verifyCached(leaf, peer) {
      const chain = leafChain(leaf);
      if (chain.length === 0) {
        throw new PeerRejectedError(
          "revocation_unknown",
          `Server "${peer}" sent a certificate that cannot be read`,
          { peer },
        );
      }
      for (const [subject, issuer] of pairs(chain)) {
        const found = judge(checker, subject, issuer, peer, BUN_NO_ISSUER, () => {
          return issuer && fresh.get(pairKey(subject, issuer));
        });
        if (found === "pending") return "pending";
      }
      return undefined;
    },
    async prefetch(leaf) {
      for (const [subject, issuer] of pairs(leafChain(leaf))) {
        if (!issuer || checker.checkCached(subject.der, issuer.der)) continue;
        let verdict: RevocationVerdict;
        try {
          verdict = await checker.check(subject.der, issuer.der);
        } catch (cause) {
          verdict = unknown(subject, `the check failed: ${(cause as Error).message}`);
        }
        fresh.set(pairKey(subject, issuer), verdict, Date.now() + FRESH_MS);
      }
    },
    close() {
      if (!given) checker.close();
    },
  };
}

/** How long an answer fetched for a retry decides without the checker's cache, ms. */
const FRESH_MS = 10_000;

const BUN_NO_ISSUER = "its issuer is in neither the ca option nor revocation.issuers " +
  "(on Bun the client sees the server's leaf only, not the chain it sent)";

function pairKey(subject: Link, issuer: Link): string {
  return `${subject.cert.fingerprint}/${issuer.cert.fingerprint}`;
}

/** The (first) certificate of PEM text or DER/PEM bytes; what does not parse is left out (the checker reports it). */
function toLink(input: string | Uint8Array): Link[] {
  try {
    const cert = readCertificate(input);
    return [{ der: cert.der, cert }];
  } catch {
    return [];
  }
}

function isChecker(v: object): v is RevocationChecker {
  const c = v as Partial<RevocationChecker>;
  return typeof c.verify === "function" && typeof c.checkCached === "function" &&
    typeof c.enforce === "function";
}

function makeChecker(options: RevocationCheckerOptions, logger: Logger): RevocationChecker {
  try {
    return createRevocationChecker({ logger, ...options });
  } catch (cause) {
    if (cause instanceof ConfigError) {
      const key = `revocation.${cause.key ?? ""}`.replace(/\.$/, "");
      throw new ConfigError(`Option "revocation": ${cause.message}`, { key, cause });
    }
    if (cause instanceof MtlsError) {
      throw new ConfigError(`Option "revocation.issuers": ${cause.message}`, {
        key: "revocation.issuers",
        cause,
      });
    }
    throw cause;
  }
}

/** One certificate against its issuer: the cache first (no I/O), else the checker's sources. */
async function verifyOne(
  checker: RevocationChecker,
  subject: Link,
  issuer: Link | undefined,
  peer: string,
): Promise<void> {
  if (!issuer) {
    judge(checker, subject, issuer, peer, NO_ISSUER, () => undefined);
    return;
  }
  let verdict = checker.checkCached(subject.der, issuer.der);
  if (!verdict) {
    try {
      verdict = await checker.check(subject.der, issuer.der);
    } catch (cause) {
      verdict = unknown(subject, `the check failed: ${(cause as Error).message}`);
    }
  }
  judge(checker, subject, issuer, peer, NO_ISSUER, () => verdict);
}

const NO_ISSUER = "its issuer is not in the chain sent nor in the ca option";

/**
 * Enforces the verdict on one certificate: the checker's cached answer, else
 * `known()`; `"pending"` when neither has one. Refusals name the certificate.
 */
function judge(
  checker: RevocationChecker,
  subject: Link,
  issuer: Link | undefined,
  peer: string,
  noIssuer: string,
  known: () => RevocationVerdict | undefined,
): "pending" | undefined {
  const what = `Server "${peer}" certificate ("${
    subject.cert.subject.text.replaceAll("\n", ", ")
  }")`;
  try {
    const verdict = issuer
      ? checker.checkCached(subject.der, issuer.der) ?? known()
      : unknown(subject, noIssuer);
    if (!verdict) return "pending";
    checker.enforce(verdict, { peer });
    return undefined;
  } catch (e) {
    if (e instanceof PeerRejectedError) {
      throw new PeerRejectedError(e.code, `${what} refused: ${e.message}`, { peer, cause: e });
    }
    throw e;
  }
}

function unknown(c: Link, detail: string): RevocationVerdict {
  return { status: "unknown", source: "none", serial: serialOf(c.cert), detail };
}

function isSelfIssued(c: Certificate): boolean {
  return namesIssuer(c, c);
}

/**
 * The server chain as the TLS stack reports it, leaf first (Deno includes the
 * trust anchor), read into the model at this boundary; `undefined` when the
 * leaf cannot be read. The chain stops before a certificate that cannot.
 */
function sentChain(socket: tls.TLSSocket): Link[] | undefined {
  type Node = { raw?: Uint8Array; issuerCertificate?: Node };
  let node = socket.getPeerCertificate(true) as unknown as Node | undefined;
  const sent: Link[] = [];
  while (node?.raw && sent.length < 10) {
    const der = new Uint8Array(node.raw);
    if (sent.some((l) => bytesEqual(l.der, der))) break;
    let cert: Certificate;
    try {
      cert = readCertificate(der);
    } catch {
      if (sent.length === 0) return undefined;
      break;
    }
    sent.push({ der, cert });
    node = node.issuerCertificate;
  }
  return sent;
}

/**
 * The chain, leaf first, each followed by its issuer (checked by signature):
 * from the certificates `sent`, completed from `anchors` when they stop short.
 */
function completeChain(sent: Link[], anchors: readonly Link[]): Link[] {
  if (sent.length === 0) return [];
  const chain: Link[] = [sent[0]];
  const candidates = [...sent.slice(1), ...anchors];
  while (chain.length < 10) {
    const tail = chain[chain.length - 1].cert;
    if (isSelfIssued(tail)) break;
    const next = candidates.find((c) =>
      namesIssuer(tail, c.cert) && signedBy(tail, c.cert.publicKey)
    );
    if (!next) break;
    chain.push(next);
  }
  return chain;
}

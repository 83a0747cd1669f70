/**
 * The client's revocation check of the server certificate: the chain the TLS
 * stack verified, read from the socket, handed to a {@link RevocationChecker}
 * before the connection is given to undici, so no request leaves before the
 * verdict. A fresh cached answer decides without waiting on the network.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { X509Certificate } from "node:crypto";
import type tls from "node:tls";
import { ConfigError, MtlsError, PeerRejectedError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { createRevocationChecker } from "../revocation/checker.ts";
import type { RevocationChecker, RevocationCheckerOptions } from "../revocation/checker_options.ts";
import type { RevocationVerdict } from "../revocation/types.ts";

/** Revocation checking of servers, ready for the connector. */
export interface ServerRevocationCheck {
  /** Resolves when the server on `socket` may be used; rejects with `revoked` or `revocation_unknown`. */
  verify(socket: tls.TLSSocket, peer: string): Promise<void>;
  /** Stops the checker's refresh timer when the client made it (not for a checker passed in). */
  close(): void;
}

interface Link {
  der: Uint8Array;
  x509: X509Certificate;
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
  const anchors: Link[] = (ca ?? []).map((pem) => {
    const x509 = new X509Certificate(pem);
    return { der: new Uint8Array(x509.raw), x509 };
  });
  return {
    async verify(socket, peer) {
      const chain = peerChain(socket, anchors);
      if (chain.length === 0) {
        throw new PeerRejectedError("revocation_unknown", `Server "${peer}" sent no certificate`, {
          peer,
        });
      }
      const last = intermediates ? chain.length : 1;
      for (let n = 0; n < last; n++) {
        const { x509 } = chain[n];
        if (n > 0 && isSelfIssued(x509)) break; // the trust anchor itself is not checked
        await verifyOne(checker, chain[n], chain[n + 1], peer);
      }
    },
    close() {
      if (!given) checker.close();
    },
  };
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
  const what = `Server "${peer}" certificate ("${subject.x509.subject.replaceAll("\n", ", ")}")`;
  try {
    if (!issuer) {
      checker.enforce(
        unknown(subject, "its issuer is not in the chain sent nor in the ca option"),
        {
          peer,
        },
      );
      return;
    }
    let verdict: RevocationVerdict | undefined;
    try {
      verdict = checker.checkCached(subject.der, issuer.der) ??
        await checker.check(subject.der, issuer.der);
    } catch (cause) {
      verdict = unknown(subject, `the check failed: ${(cause as Error).message}`);
    }
    checker.enforce(verdict, { peer });
  } catch (e) {
    if (e instanceof PeerRejectedError) {
      throw new PeerRejectedError(e.code, `${what} refused: ${e.message}`, { peer, cause: e });
    }
    throw e;
  }
}

function unknown(c: Link, detail: string): RevocationVerdict {
  const serial = c.x509.serialNumber.toLowerCase().replace(/^0+(?=.)/, "");
  return { status: "unknown", source: "none", serial, detail };
}

function isSelfIssued(x: X509Certificate): boolean {
  return x.subject === x.issuer && x.checkIssued(x);
}

/**
 * The server chain, leaf first, each followed by its issuer: what the TLS
 * stack reports (Deno includes the trust anchor), completed from `anchors`
 * when it stops short.
 */
function peerChain(socket: tls.TLSSocket, anchors: readonly Link[]): Link[] {
  type Node = { raw?: Uint8Array; issuerCertificate?: Node };
  let node = socket.getPeerCertificate(true) as unknown as Node | undefined;
  const sent: Link[] = [];
  while (node?.raw && sent.length < 10) {
    const der = new Uint8Array(node.raw);
    if (sent.some((l) => Buffer.compare(l.der, der) === 0)) break;
    sent.push({ der, x509: new X509Certificate(der) });
    node = node.issuerCertificate;
  }
  if (sent.length === 0) return [];
  const chain: Link[] = [sent[0]];
  const candidates = [...sent.slice(1), ...anchors];
  while (chain.length < 10) {
    const tail = chain[chain.length - 1].x509;
    if (isSelfIssued(tail)) break;
    const next = candidates.find((c) => tail.checkIssued(c.x509) && tail.verify(c.x509.publicKey));
    if (!next) break;
    chain.push(next);
  }
  return chain;
}

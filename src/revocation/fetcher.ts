/**
 * Network access for revocation sources: one `fetch` per call with a timeout,
 * and a cooldown per URL after a failure so a dead responder is not hammered
 * and handshakes do not queue behind it (the shape of jose's remote key set).
 *
 * @module
 */
import { RevocationError } from "../errors.ts";
import type { FetchLike } from "./types.ts";

/** Options for {@link createFetcher}. */
export interface FetcherOptions {
  fetch: FetchLike;
  /** Per request, ms. */
  timeout: number;
  /** After a failure, ms before the same URL is tried again. */
  cooldown: number;
  now: () => Date;
}

/** Fetches revocation data. */
export interface Fetcher {
  /** GET (no body) or POST (`body`) `url`; resolves to the response bytes. */
  get(url: string, body?: Uint8Array, contentType?: string): Promise<Uint8Array>;
  /** When `url` may be tried again, if it is cooling down. */
  coolingUntil(url: string): Date | undefined;
}

/** Makes a {@link Fetcher}. Failures reject with `revocation_fetch_failed` naming the URL. */
export function createFetcher(options: FetcherOptions): Fetcher {
  const { fetch, timeout, cooldown, now } = options;
  const failedAt = new Map<string, { until: number; why: string }>();
  const coolingUntil = (url: string) => {
    const f = failedAt.get(url);
    if (!f) return undefined;
    if (f.until <= now().getTime()) {
      failedAt.delete(url);
      return undefined;
    }
    return new Date(f.until);
  };
  return {
    coolingUntil,
    async get(url, body, contentType) {
      const until = coolingUntil(url);
      if (until) {
        throw new RevocationError(
          "revocation_fetch_failed",
          `Cannot fetch "${url}": cooling down until ${until.toISOString()} after "${
            failedAt.get(url)!.why
          }"`,
        );
      }
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), timeout);
      try {
        const res = await fetch(url, {
          method: body ? "POST" : "GET",
          headers: body ? { "content-type": contentType ?? "application/octet-stream" } : {},
          body: body ? (body.slice() as Uint8Array<ArrayBuffer>) : undefined,
          signal: ac.signal,
        });
        if (!res.ok) {
          await res.body?.cancel();
          throw new Error(`HTTP ${res.status}`);
        }
        return new Uint8Array(await res.arrayBuffer());
      } catch (err) {
        const why = ac.signal.aborted ? `timed out after ${timeout} ms` : (err as Error).message;
        failedAt.set(url, { until: now().getTime() + cooldown, why });
        throw new RevocationError("revocation_fetch_failed", `Cannot fetch "${url}": ${why}`, {
          cause: err,
        });
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Network access for revocation sources: one `fetch` per call with a timeout,
 * and a cooldown per URL after a failure so a dead responder is not hammered
 * and handshakes do not queue behind it (the shape of jose's remote key set).
 *
 * @module
 */
import { RevocationError } from "../errors.ts";
import { LruMap } from "../limits/lru.ts";
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

/**
 * URLs cooling down at once, at most. They come from certificates' AIA and
 * distribution points, so the table is bounded like every cache; past it the
 * least recently failed URL may be tried again early.
 */
const COOLING_MAX = 1_024;

/** Makes a {@link Fetcher}. Failures reject with `revocation_fetch_failed` naming the URL. */
export function createFetcher(options: FetcherOptions): Fetcher {
  const { fetch, timeout, cooldown, now } = options;
  const failedAt = new LruMap<{ until: number; why: string }>({
    max: COOLING_MAX,
    now: () => now().getTime(),
  });
  return {
    coolingUntil(url) {
      const f = failedAt.peek(url);
      return f && new Date(f.until);
    },
    async get(url, body, contentType) {
      const cooling = failedAt.peek(url);
      if (cooling) {
        throw new RevocationError(
          "revocation_fetch_failed",
          `Cannot fetch "${url}": cooling down until ${
            new Date(cooling.until).toISOString()
          } after "${cooling.why}"`,
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
        const until = now().getTime() + cooldown;
        failedAt.set(url, { until, why }, until);
        throw new RevocationError("revocation_fetch_failed", `Cannot fetch "${url}": ${why}`, {
          cause: err,
        });
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * `tokenFromFile`: a bearer token kept in a file that something else renews
 * (a sidecar, a cron job, `oauth2c > token`).
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { FileError, MtlsError } from "../errors.ts";
import { checkBearerToken, type TokenSource } from "./token_source.ts";

/**
 * Options of {@link tokenFromFile}.
 *
 * @example
 * ```ts
 * import type { TokenFileOptions } from "@mtls/mcp/auth";
 * const o: TokenFileOptions = { readFile: (p) => Deno.readTextFile(p) };
 * ```
 */
export interface TokenFileOptions {
  /** Reads the file as text (for tests or other storage). @default {node:fs readFile} */
  readFile?: (path: string) => Promise<string>;
}

/**
 * A {@link TokenSource} that reads `path` on every request. Why every
 * request: a renewed token is used from the very next request, whatever the
 * writer does (rename, truncate and rewrite, a mounted secret's symlink
 * swap), with no watcher to keep running and no mtime granularity to trust;
 * the cost is one small file read per HTTP request. White space around the
 * token is ignored; an empty or malformed file rejects with `token_unavailable`,
 * a missing one with `file_not_found`.
 *
 * @param path the file holding the token
 * @param options how to read it
 * @returns the source
 *
 * @example
 * ```ts
 * import { tokenFromFile } from "@mtls/mcp/auth";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/token`, "abc.def.ghi\n");
 * console.log(await tokenFromFile(`${dir}/token`).token()); // "abc.def.ghi"
 * ```
 */
export function tokenFromFile(path: string, options: TokenFileOptions = {}): TokenSource {
  const read = options.readFile ?? ((p: string) => readFile(p, "utf8"));
  return {
    async token() {
      let text: string;
      try {
        text = await read(path);
      } catch (cause) {
        const code = (cause as { code?: string }).code;
        if (code === "ENOENT") {
          throw new FileError("file_not_found", `Cannot read token file "${path}": no such file`, {
            path,
            cause,
          });
        }
        throw new FileError(
          "file_io",
          `Cannot read token file "${path}": ${(cause as Error).message}`,
          { path, cause },
        );
      }
      try {
        return checkBearerToken(text, `file "${path}"`);
      } catch (cause) {
        // Not bad configuration: the file may be mid-renewal; the next request reads it again.
        throw new MtlsError("token_unavailable", (cause as Error).message, { cause });
      }
    },
    // Nothing cached: the next request reads the file again anyway.
    invalidate() {},
  };
}

/**
 * The command table: one entry per command, each loaded only when chosen.
 *
 * @module
 */
import type { CliIo } from "./io.ts";

/** A command: its words, a one-line summary, and its entry point. */
export interface Command {
  /** The words that select it, e.g. `["certs", "init"]`. */
  path: string[];
  /** Usage line shown in the overview. */
  usage: string;
  /** Runs it with the remaining arguments; resolves to the exit code. */
  run: (args: string[], io: CliIo) => Promise<number>;
}

/** Every command, in the order `--help` lists them. */
export const COMMANDS: Command[] = [
  {
    path: ["certs", "init"],
    usage: "certs init    [--dir certs] [--key TYPE] [--days N] [--force]",
    run: async (args, io) => (await import("./certs_init.ts")).certsInit(args, io),
  },
  {
    path: ["certs", "issue"],
    usage:
      "certs issue   server|client NAME [--san LIST] [--dir certs] [--days N] [--key TYPE] [--p12]",
    run: async (args, io) => (await import("./certs_issue.ts")).certsIssue(args, io),
  },
  {
    path: ["certs", "inspect"],
    usage: "certs inspect FILE [--json]",
    run: async (args, io) => (await import("./certs_inspect.ts")).certsInspect(args, io),
  },
  {
    path: ["certs", "pin"],
    usage: "certs pin     FILE",
    run: async (args, io) => (await import("./certs_pin.ts")).certsPin(args, io),
  },
  {
    path: ["certs", "revoke"],
    usage: "certs revoke  FILE|SERIAL [--reason R] [--dir certs]   (updates DIR/ca.crl)",
    run: async (args, io) =>
      (await import("./certs_revoke.ts")).certsRevoke(args, {
        stdout: (t) => io.stdout(t),
        stderr: (t) => io.stderr(t),
      }),
  },
  {
    path: ["serve"],
    usage:
      "serve         [--config FILE] [--certs certs] [--host 127.0.0.1] [--port 8443] [-- CMD ...]",
    run: async (args, io) => (await import("./serve.ts")).serve(args, io),
  },
  {
    path: ["connect"],
    usage: "connect       URL [--cert F --key F] [--ca F] [--pin P]...  (stdio <-> remote server)",
    run: async (args, io) => (await import("./connect.ts")).connect(args, io),
  },
  {
    path: ["doctor"],
    usage: "doctor        URL [--cert F --key F] [--ca F] [--pin P] [--crl F] [--json]",
    run: async (args, io) => (await import("./doctor.ts")).doctor(args, io),
  },
];

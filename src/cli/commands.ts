/**
 * The command table: one line per command, so adding one (`certs revoke`,
 * `serve`, `connect`, `doctor`) is one import and one entry here.
 *
 * @module
 */
import { certsInit } from "./certs_init.ts";
import { certsInspect } from "./certs_inspect.ts";
import { certsIssue } from "./certs_issue.ts";
import { certsPin } from "./certs_pin.ts";
import { certsRevoke } from "./certs_revoke.ts";
import { connect } from "./connect.ts";
import { doctor } from "./doctor.ts";
import type { CliIo } from "./io.ts";
import { serve } from "./serve.ts";

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
    run: certsInit,
  },
  {
    path: ["certs", "issue"],
    usage:
      "certs issue   server|client NAME [--san LIST] [--dir certs] [--days N] [--key TYPE] [--p12]",
    run: certsIssue,
  },
  { path: ["certs", "inspect"], usage: "certs inspect FILE [--json]", run: certsInspect },
  { path: ["certs", "pin"], usage: "certs pin     FILE", run: certsPin },
  {
    path: ["certs", "revoke"],
    usage: "certs revoke  FILE|SERIAL [--reason R] [--dir certs]   (updates DIR/ca.crl)",
    run: (args, io) =>
      certsRevoke(args, { stdout: (t) => io.stdout(t), stderr: (t) => io.stderr(t) }),
  },
  {
    path: ["serve"],
    usage:
      "serve         [--config FILE] [--certs certs] [--host 127.0.0.1] [--port 8443] [-- CMD ...]",
    run: (args, io) => serve(args, io),
  },
  {
    path: ["connect"],
    usage: "connect       URL [--cert F --key F] [--ca F] [--pin P]...  (stdio <-> remote server)",
    run: (args, io) => connect(args, io),
  },
  {
    path: ["doctor"],
    usage: "doctor        URL [--cert F --key F] [--ca F] [--pin P] [--crl F] [--json]",
    run: (args, io) => doctor(args, io),
  },
];

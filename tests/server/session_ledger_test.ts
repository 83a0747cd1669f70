/** The session ledger alone: which session gives way, and when a new one is refused. */
import assert from "node:assert/strict";
import {
  createSessionLedger,
  type SessionLedgerOptions,
  type SessionSlot,
} from "../../src/mcp/session_ledger.ts";

function ledgerWith(limits: Partial<SessionLedgerOptions>) {
  let t = 0;
  const evicted: string[] = [];
  const ledger = createSessionLedger({
    maxSessions: 100,
    maxSessionsPerIdentity: 100,
    maxSessionsPerConnection: 100,
    evict: (slot, limit) => evicted.push(`${slot.id} ${limit}`),
    now: () => ++t,
    ...limits,
  });
  /** Opens an idle session (its initialize answered) named `id`. */
  const open = (owner: string, id: string, connection: object = {}) => {
    const slot = ledger.reserve(owner, connection);
    assert.ok(!("status" in slot), `${id}: ${JSON.stringify(slot)}`);
    slot.id = id;
    ledger.end(slot);
    return slot;
  };
  return { ledger, evicted, open };
}

Deno.test("createSessionLedger() closes the least recently used idle session of the owner at its cap", () => {
  const { ledger, evicted, open } = ledgerWith({ maxSessionsPerIdentity: 2 });
  const a1 = open("alice", "a1");
  open("alice", "a2");
  ledger.begin(a1);
  ledger.end(a1); // a2 is now the least recently used
  open("alice", "a3");
  assert.deepEqual(evicted, ["a2 maxSessionsPerIdentity"]);
  assert.equal(ledger.size, 2);
});

Deno.test("createSessionLedger() refuses with 429 when every session of the owner is busy", () => {
  const { ledger, evicted, open } = ledgerWith({ maxSessionsPerIdentity: 2 });
  for (const s of [open("alice", "a1"), open("alice", "a2")]) ledger.begin(s);
  assert.deepEqual(ledger.reserve("alice", {}), {
    status: 429,
    detail: 'More than 2 open sessions for "alice", none of them idle',
  });
  assert.ok(!("status" in ledger.reserve("bob", {})), "another owner is not affected");
  assert.deepEqual(evicted, []);
});

Deno.test("createSessionLedger() counts a connection's sessions until they are released", () => {
  const { ledger, open } = ledgerWith({ maxSessionsPerConnection: 2 });
  const conn = {};
  const first = open("alice", "a1", conn);
  open("bob", "b1", conn);
  assert.deepEqual(ledger.reserve("carol", conn), {
    status: 429,
    detail: "More than 2 open sessions on this connection",
  });
  assert.equal(ledger.release(first), true);
  assert.equal(ledger.release(first), false, "released once");
  assert.ok(!("status" in ledger.reserve("carol", conn)));
});

Deno.test("createSessionLedger() at maxSessions takes from the biggest holder with an idle session, the requester's own last", () => {
  const { ledger, evicted, open } = ledgerWith({ maxSessions: 6 });
  const alice = [open("alice", "a1"), open("alice", "a2"), open("alice", "a3")];
  open("bob", "b1");
  open("bob", "b2");
  open("carol", "c1");
  // Carol (1) asks: alice holds the most.
  open("carol", "c2");
  assert.deepEqual(evicted, ["a1 maxSessions"]);
  // Alice's are busy, and nobody holds more than carol's two: she gives up her own oldest.
  for (const s of alice.slice(1)) ledger.begin(s);
  open("carol", "c3");
  assert.deepEqual(evicted, ["a1 maxSessions", "c1 maxSessions"]);
  // A newcomer takes from the biggest holder that has an idle session: bob.
  open("dave", "d1");
  assert.deepEqual(evicted.at(-1), "b1 maxSessions");
  assert.equal(ledger.size, 6);
});

Deno.test("createSessionLedger() answers 503 when the server is full and nothing is idle", () => {
  const { ledger, open } = ledgerWith({ maxSessions: 2 });
  ledger.begin(open("alice", "a1"));
  ledger.begin(open("bob", "b1"));
  assert.deepEqual(ledger.reserve("carol", {}), {
    status: 503,
    detail: "More than 2 open sessions, none of them idle",
  });
});

Deno.test("createSessionLedger() lists only idle sessions as expired, busy ones never", () => {
  const { ledger, open } = ledgerWith({});
  const idle = open("alice", "a1");
  const busy = open("alice", "a2");
  ledger.begin(busy);
  const pending = ledger.reserve("bob", {}) as SessionSlot;
  assert.deepEqual(ledger.idleSince(Infinity), [idle]);
  assert.equal(pending.active, 1, "a session being initialized is busy");
});

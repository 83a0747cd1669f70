import assert from "node:assert/strict";
import {
  ConfigError,
  isMtlsError,
  MtlsError,
  PeerRejectedError,
  REASON_CODES,
} from "../src/errors.ts";

Deno.test("PeerRejectedError keeps reason, peer and cause", () => {
  const cause = new Error("alert 48");
  const e = new PeerRejectedError("unknown_ca", "Client certificate from an unknown CA", {
    peer: "127.0.0.1:4000",
    cause,
  });
  assert.ok(e instanceof MtlsError);
  assert.equal(e.code, "unknown_ca");
  assert.equal(e.peer, "127.0.0.1:4000");
  assert.equal(e.cause, cause);
  assert.equal(e.name, "PeerRejectedError");
});

Deno.test("ConfigError names the key path", () => {
  const e = new ConfigError('Option "port" must be from 0 to 65535, got "70000"', { key: "port" });
  assert.equal(e.code, "invalid_config");
  assert.equal(e.key, "port");
  assert.ok(isMtlsError(e, "invalid_config"));
  assert.ok(!isMtlsError(e, "revoked"));
});

Deno.test("REASON_CODES is the design contract's list", () => {
  assert.deepEqual([...REASON_CODES].sort(), [
    "ambiguous_identity",
    "auth_unavailable",
    "bad_certificate",
    "bad_key_usage",
    "expired",
    "handshake_timeout",
    "hostname_mismatch",
    "identity_denied",
    "insufficient_scope",
    "invalid_token",
    "no_client_cert",
    "not_yet_valid",
    "origin_denied",
    "pin_mismatch",
    "protocol_version",
    "proxy_protocol_invalid",
    "proxy_protocol_untrusted",
    "rate_limited",
    "request_timeout",
    "revocation_unknown",
    "revoked",
    "token_binding_mismatch",
    "token_missing",
    "token_unbound",
    "unknown_ca",
    "upstream_timeout",
    "upstream_unavailable",
    "weak_key",
    "weak_signature",
    "worker_unavailable",
  ]);
});

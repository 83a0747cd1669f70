import assert from "node:assert/strict";
import { lazyJsonSchemaValidator } from "../../src/mcp/lazy_validator.ts";

const schema = {
  type: "object",
  properties: { name: { type: "string" }, age: { type: "integer", minimum: 0 } },
  required: ["name"],
};

Deno.test("lazyJsonSchemaValidator() checks like the SDK's Ajv validator", () => {
  const v = lazyJsonSchemaValidator().getValidator<{ name: string }>(schema);
  const ok = v({ name: "alice", age: 3 });
  assert.equal(ok.valid, true);
  assert.deepEqual(ok.data, { name: "alice", age: 3 });
  const bad = v({ age: -1 });
  assert.equal(bad.valid, false);
  assert.equal(bad.data, undefined);
  assert.match(bad.errorMessage ?? "", /name|minimum|required/);
});

Deno.test("lazyJsonSchemaValidator() checks several schemas after its first use", () => {
  const lazy = lazyJsonSchemaValidator();
  const a = lazy.getValidator(schema);
  const b = lazy.getValidator({ type: "string", maxLength: 2 });
  assert.equal(a({ name: "x" }).valid, true);
  assert.equal(b("abc").valid, false);
  assert.equal(b("ab").valid, true);
});

/**
 * A JSON Schema validator for the SDK's `McpServer` that builds its Ajv
 * instance only when a schema is first checked. The SDK builds one per server
 * (so one per session) on construction, about 35 KiB each, though a server
 * uses it only to check elicitation answers.
 *
 * @module
 */

// The SDK's types by their path without ".js": see tests/publish/types_test.ts.
// @ts-types="@modelcontextprotocol/sdk/validation/ajv-provider"
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv-provider.js";

/** What the SDK's `jsonSchemaValidator` option asks for. */
export interface LazyJsonSchemaValidator {
  /** A validator for `schema`; the first call builds the Ajv instance. */
  getValidator<T>(schema: unknown): (input: unknown) => {
    valid: boolean;
    data: T | undefined;
    errorMessage: string | undefined;
  };
}

/**
 * The SDK's Ajv validator, built on first use. Pass it as `jsonSchemaValidator`
 * when a session factory creates an `McpServer`: sessions that never validate
 * a schema (no elicitation) then cost about 35 KiB less each.
 *
 * @example
 * ```ts
 * import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
 * import { lazyJsonSchemaValidator } from "@mtls/mcp/mcp";
 *
 * const factory = () =>
 *   new McpServer({ name: "demo", version: "1.0.0" }, {
 *     jsonSchemaValidator: lazyJsonSchemaValidator(),
 *   });
 * ```
 */
export function lazyJsonSchemaValidator(): LazyJsonSchemaValidator {
  // Typed loosely on purpose: under Deno the SDK's subpath types resolve to `any`,
  // under Node.js they are real; the cast keeps one source valid for both.
  let inner: { getValidator(schema: never): unknown } | undefined;
  return {
    getValidator<T>(schema: unknown) {
      inner ??= new AjvJsonSchemaValidator() as { getValidator(schema: never): unknown };
      return inner.getValidator(schema as never) as ReturnType<
        LazyJsonSchemaValidator["getValidator"]
      > as never as (input: unknown) => {
        valid: boolean;
        data: T | undefined;
        errorMessage: string | undefined;
      };
    },
  };
}

// Deno and Bun set import.meta.main; Node.js leaves it undefined, so the CLI's
// `if (import.meta.main)` blocks do nothing there (bin.ts starts the CLI instead).
interface ImportMeta {
  main?: boolean;
}

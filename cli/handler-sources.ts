/**
 * `greenlight local` and `greenlight demo` run the real handler modules from their TypeScript sources
 * (local/services/lambda.ts imports functions/…/handler.ts, as serverless.yml names them), and
 * serverless.yml's variables run scripts/validate-config.ts with `node --import tsx`. From the sources
 * (bin/greenlight.js in development, vitest) tsx is already loaded; the compiled CLI (dist/) registers
 * it here, for these two commands only: the others never load tsx.
 */
export async function runHandlersFromSources(): Promise<void> {
  if (import.meta.url.endsWith('.ts')) return;
  const { register } = await import('tsx/esm/api');
  register();
}

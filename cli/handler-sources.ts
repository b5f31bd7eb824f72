import { projectRoot } from '../local/project-root.ts';

/**
 * What `greenlight local` and `greenlight demo` need before they start the endpoint, which runs the
 * real handler modules in this process:
 * - their TypeScript sources load (local/services/lambda.ts imports functions/…/handler.ts, as
 *   serverless.yml names them, and serverless.yml's variables run scripts/validate-config.ts with
 *   `node --import tsx`). From the sources (bin/greenlight.js in development, vitest) tsx is already
 *   loaded; the compiled CLI (dist/) registers it here, for these two commands only.
 * - the working directory is the project, as Lambda runs a function in its task root: the handlers
 *   open GREENLIGHT_CONFIG_FILE relative to it. Paths the user typed are made absolute first (the
 *   caller's `absolute`), so `greenlight local --data ./state` from any folder means that folder.
 */
export async function prepareForHandlers(): Promise<void> {
  process.chdir(projectRoot);
  if (import.meta.url.endsWith('.ts')) return;
  const { register } = await import('tsx/esm/api');
  register();
}

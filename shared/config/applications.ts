import type { GreenlightConfig } from './schema.ts';

/**
 * Which application a repository deploys, if any. A module without imports of its own: the trigger
 * uses it, and so does `greenlight plan`, which must not load the SDK clients the trigger needs.
 */
export function applicationOf(config: GreenlightConfig, repository: string): string | undefined {
  return Object.entries(config.applications).find(([, app]) => app.images.includes(repository))?.[0];
}

import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project folder: serverless.yml, functions/, statemachine/, greenlight.yml. One level above this
 * module, both in the sources (local/) and in the compiled CLI (dist/, chunks included), so it holds in
 * a checkout and in an installed package. A module of its own so the CLI can name the default
 * configuration without loading the endpoint.
 */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

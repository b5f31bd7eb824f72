#!/usr/bin/env node
// The greenlight CLI. An installed package runs the compiled JavaScript in dist/ (scripts/build-cli.ts,
// run by `prepare` on npm pack): no tsx, and each command's code is loaded only when it runs.
//
// In a checkout (cli/main.ts beside this file) dist/ may be older than the sources, and an edit must
// never be answered by a stale build: dist/ runs only when dist/build.json exists and none of the
// inputs it lists was modified (or removed) since that build started; otherwise the sources run
// through tsx, as before (npm ci builds dist/, so a fresh clone starts compiled). GREENLIGHT_USE_DIST=1
// insists on dist/ (an error when it is missing or stale), GREENLIGHT_USE_DIST=0 on the sources.
import { existsSync, readFileSync, statSync } from 'node:fs';
import module from 'node:module';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Node 22.1+ keeps V8's compiled code of the modules loaded from here on between runs (in the OS temp
// folder), so a later start parses little; Node 20 has no such cache and goes on without it.
module.enableCompileCache?.();

const root = new URL('../', import.meta.url);
const checkout = existsSync(new URL('cli/main.ts', root));
const wanted = process.env.GREENLIGHT_USE_DIST;

/** Why dist/ cannot stand for the sources of this checkout, or undefined when it can. */
function staleBecause() {
  let build;
  try {
    build = JSON.parse(readFileSync(new URL('dist/build.json', root), 'utf8'));
  } catch {
    return 'dist/ is not built (npm run build)';
  }
  for (const input of build.inputs) {
    let modified;
    try {
      modified = statSync(new URL(input, root)).mtimeMs;
    } catch {
      return `${input} is gone since dist/ was built (npm run build)`;
    }
    if (modified >= build.startedAt) return `${input} changed since dist/ was built (npm run build)`;
  }
  return undefined;
}

let useDist = !checkout;
if (checkout && wanted !== '0') {
  const stale = staleBecause();
  if (stale && wanted === '1') {
    process.stderr.write(`greenlight: GREENLIGHT_USE_DIST=1 but ${stale}\n`);
    process.exit(2);
  }
  useDist = !stale;
}

let main;
if (useDist) {
  ({ main } = await import('../dist/main.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../cli/main.ts'));
}
process.exitCode = await main(process.argv);

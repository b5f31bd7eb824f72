#!/usr/bin/env node
// The greenlight CLI. Runs the TypeScript sources through tsx, so a fresh clone needs only `npm ci`.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { register } = await import('tsx/esm/api');
register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv);

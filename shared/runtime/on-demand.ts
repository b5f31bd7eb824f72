// Packages loaded the first time they are needed, not at a function's cold start (issue 12): each tag
// rule engine on the first rule of its kind (RE2 for `regex:`, semver for `semver:`; globs, the common
// kind, are bundled), YAML only when a Docker Compose bundle is rendered. They are
// esbuild externals (serverless.yml custom.esbuild.external), so they stay out of the bundles and
// serverless-esbuild ships them in each package's node_modules — it finds them by the bundle's literal
// `require("…")` calls, which is why each is written out below. Run from the TypeScript sources (ES
// modules: the CLI, the local endpoint, tests) there is no `require`, and a require of this file's own
// loads the same package. bench/lambda-bundles.ts reports their size and load time beside the budgets.
import { createRequire } from 'node:module';
import { lazy } from './lazy.ts';

const requireHere = (): NodeJS.Require => (typeof require === 'function' ? require : createRequire(import.meta.url));

/** re2js (~156 KB): linear-time regular expressions for `regex:` tag rules. */
export const re2js = /* @__PURE__ */ lazy(() => (typeof require === 'function' ? require('re2js') : requireHere()('re2js')) as typeof import('re2js'));

/** semver (~30 KB): `semver:` tag rules. */
export const semver = /* @__PURE__ */ lazy(() => (typeof require === 'function' ? require('semver') : requireHere()('semver')) as typeof import('semver'));

/** yaml (~119 KB): Docker Compose templates (Dockerrun v3 bundles). */
export const yaml = /* @__PURE__ */ lazy(() => (typeof require === 'function' ? require('yaml') : requireHere()('yaml')) as typeof import('yaml'));

/** The packages above by name, for the benchmark and the bundle tests. */
export const onDemandPackages = ['re2js', 'semver', 'yaml'] as const;

// Values serverless.yml derives from the greenlight configuration file, so that the one file a
// platform engineer edits also decides the event rule, the IAM resources and what is packaged.
// Used as ${file(./deploy/greenlight-vars.cjs):NAME}; the local endpoint reads serverless.yml the same way.
'use strict';
const { readFileSync } = require('node:fs');
const { dirname, relative, resolve } = require('node:path');
const { parse } = require('yaml');

function configPath() {
  return resolve(__dirname, '..', process.env.GREENLIGHT_CONFIG || 'greenlight.yml');
}

function readConfig() {
  const path = configPath();
  const config = parse(readFileSync(path, 'utf8'));
  if (!config || typeof config.applications !== 'object') {
    throw new Error(`${path}: no "applications" section (see README, "The configuration file")`);
  }
  return { path, applications: config.applications };
}

module.exports = () => {
  const { path, applications } = readConfig();
  const root = resolve(__dirname, '..');
  const apps = Object.values(applications);
  const stages = apps.flatMap((app) => app.stages || []);
  const bundlePaths = apps.flatMap((app) => {
    const bundle = app.bundle || {};
    const base = dirname(path);
    return [bundle.dockerrun, bundle.compose].filter(Boolean).map((p) => relative(root, resolve(base, p)))
      .concat(bundle.ebextensions ? [`${relative(root, resolve(base, bundle.ebextensions))}/**`] : []);
  });
  return {
    configFile: relative(root, path),
    repositories: [...new Set(apps.flatMap((app) => app.images || []))].sort(),
    applications: Object.keys(applications).sort(),
    environments: [...new Set(stages.map((stage) => stage.environment))].sort(),
    packagePatterns: [relative(root, path), ...bundlePaths],
  };
};

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../shared/config/load.ts';
import { reconcilerSettings } from '../../shared/config/schema.ts';
import { validationReport } from '../../shared/config/validation-report.ts';
import { ConfigurationError } from '../../shared/errors.ts';

const minimal = (extra = '') => `
applications:
  api:
    images: [api]
    bundle: { dockerrun: Dockerrun.aws.json }
    stages:
      - environment: api-dev
        tags: ['v*']
${extra}`;

describe('the configuration file', () => {
  it('fills in defaults and turns durations into seconds', () => {
    const config = parseConfig(`${minimal()}      - environment: api-prod
        tags: ['semver:>=1.0.0']
        approval: { approvers: ['arn:aws:iam::123456789012:role/release'] }
`);
    const app = config.applications.api!;
    expect(app.health).toEqual({ accept: ['Green'], timeout: 1200 });
    expect(app.stages[1]!.approval).toEqual({ approvers: ['arn:aws:iam::123456789012:role/release'], timeout: 259200 });
  });

  it('names every problem at once, with its path', () => {
    const text = `
applications:
  api:
    images: []
    bundle: {}
    stages:
      - environment: -bad-
        tags: []
    health: { timeout: soon }
`;
    expect(() => parseConfig(text)).toThrow(ConfigurationError);
    try {
      parseConfig(text);
    } catch (error) {
      const message = (error as Error).message;
      for (const path of ['applications.api.images', 'applications.api.bundle.dockerrun', 'applications.api.stages.0.environment', 'applications.api.stages.0.tags', 'applications.api.health.timeout']) {
        expect(message).toContain(path);
      }
    }
  });

  it('refuses a repository shared by two applications and an approval on the first stage', () => {
    const text = `
applications:
  a:
    images: [shared]
    bundle: { dockerrun: x.json }
    stages: [{ environment: a-dev, tags: ['v*'], approval: { approvers: ['arn:aws:iam::123456789012:role/r'] } }]
  b:
    images: [shared]
    bundle: { dockerrun: y.json }
    stages: [{ environment: b-dev, tags: ['v*'] }]
`;
    expect(() => parseConfig(text)).toThrow(/first stage deploys on push[\s\S]*already used by application a/);
  });

  it('refuses keys it does not know (a typo must not silently change behaviour)', () => {
    expect(() => parseConfig(minimal('    helth: { timeout: 5m }'))).toThrow(/helth/);
  });

  it('loads the shipped example configuration', () => {
    const { config } = loadConfig(new URL('../../greenlight.yml', import.meta.url).pathname);
    expect(Object.keys(config.applications)).toEqual(['hello-api', 'webhooks', 'shop', 'reports', 'dockdj']);
    expect(readFileSync(new URL('../../greenlight.yml', import.meta.url), 'utf8')).toContain('greenlight.schema.json');
  });

  it('says which file it could not read', () => {
    expect(() => loadConfig('/nonexistent/greenlight.yml')).toThrow(/cannot read the configuration file \/nonexistent\/greenlight.yml/);
  });
});

describe('install.reconciler', () => {
  /**
   * What serverless.yml reads from the same file (deploy/greenlight-vars.cjs, through the same validator):
   * by default as `serverless package` runs it (the validator in a `node --import tsx` child); `inProcess`
   * hands it the validator directly, as the local endpoint does (the same report, without ~0.5 s of CPU).
   */
  function installVariables(text: string, { inProcess = false } = {}): { settings: Record<string, unknown> } {
    const folder = mkdtempSync(join(tmpdir(), 'greenlight-config-'));
    const path = join(folder, 'greenlight.yml');
    writeFileSync(path, text);
    writeFileSync(join(folder, 'Dockerrun.aws.json'), '{"AWSEBDockerrunVersion":"1","Image":{"Name":"{{image:api}}"},"Ports":[{"ContainerPort":80}]}');
    const previous = process.env.GREENLIGHT_CONFIG;
    process.env.GREENLIGHT_CONFIG = path;
    try {
      return createRequire(import.meta.url)('../../deploy/greenlight-vars.cjs')(inProcess ? { validationReport } : undefined);
    } finally {
      if (previous === undefined) delete process.env.GREENLIGHT_CONFIG;
      else process.env.GREENLIGHT_CONFIG = previous;
    }
  }

  it('runs every 5 minutes over the last hour unless configured, in seconds', () => {
    expect(reconcilerSettings(parseConfig(minimal()))).toEqual({ every: 300, window: 3600 });
    expect(reconcilerSettings(parseConfig(`install:\n  reconciler: { every: 15m }\n${minimal()}`))).toEqual({ every: 900, window: 3600 });
    expect(installVariables(minimal()).settings.reconcileRate).toBe('rate(5 minutes)');
    expect(installVariables(`install:\n  reconciler: { every: 1m, window: 2m }\n${minimal()}`, { inProcess: true }).settings.reconcileRate).toBe('rate(1 minute)');
    expect(installVariables(`install:\n  reconciler: { every: 2h, window: 1d }\n${minimal()}`, { inProcess: true }).settings.reconcileRate).toBe('rate(2 hours)');
  });

  it('refuses a window shorter than two periods, a period that is not whole minutes, and unknown keys, in both readings', () => {
    for (const [index, [reconciler, problem]] of ([
      ['{ every: 10m, window: 15m }', /at least twice/],
      ['{ every: 90s }', /whole minutes/],
      ['{ window: 60d }', /at most 30d/],
      ['{ evry: 5m }', /evry/],
    ] as const).entries()) {
      const text = `install:\n  reconciler: ${reconciler}\n${minimal()}`;
      expect(() => parseConfig(text), reconciler).toThrow(problem);
      // The first through the child process serverless runs, the others with the same validator in-process.
      expect(() => installVariables(text, { inProcess: index > 0 }), reconciler).toThrow(problem);
    }
  });
});

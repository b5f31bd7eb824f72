import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../shared/config/load.ts';
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
    expect(Object.keys(config.applications)).toEqual(['hello-api', 'webhooks', 'shop', 'reports']);
    expect(readFileSync(new URL('../../greenlight.yml', import.meta.url), 'utf8')).toContain('greenlight.schema.json');
  });

  it('says which file it could not read', () => {
    expect(() => loadConfig('/nonexistent/greenlight.yml')).toThrow(/cannot read the configuration file \/nonexistent\/greenlight.yml/);
  });
});

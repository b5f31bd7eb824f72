import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../shared/config/load.ts';
import { unreachableStages } from '../../shared/config/reachability.ts';
import { validateConfigFile, validateConfigText } from '../../shared/config/validate.ts';
import { ConfigurationError } from '../../shared/errors.ts';

/** A folder holding a configuration file and its bundle files; returns the configuration's path. */
function project(files: Record<string, string>): string {
  const folder = mkdtempSync(join(tmpdir(), 'greenlight-validate-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(folder, path)), { recursive: true });
    writeFileSync(join(folder, path), text);
  }
  return join(folder, 'greenlight.yml');
}

const v1 = (repository: string) => `{"AWSEBDockerrunVersion":"1","Image":{"Name":"{{image:${repository}}}"},"Ports":[{"ContainerPort":80}]}`;

/** One configuration with one of each mistake, and the path and words each must be reported with. */
const manyMistakes = {
  'greenlight.yml': `
install:
  logRetentionDays: 2
applications:
  api:
    images: [api, api-unused]
    bundle:
      dockerrun: api/Dockerrun.aws.json
      ebextensions: api/missing-ext
      include: [api/.platform, api/Dockerfile]
      files: [x]
    stages:
      - environment: api-dev
        tags: ['regex:(a', 'semver:not a range']
      - environment: api-dev
        tags: ['regex:^(?=v)']
        approval: { approvers: ['arn:aws:iam::123456789012:role/r'], timeout: 0s }
    health: { timeout: 0s }
  web:
    images: [web]
    bundle: { dockerrun: web/nowhere.json }
    stages: [{ environment: web-dev, tags: ['v*'] }]
  compose:
    images: [compose]
    bundle: { dockerrun: compose/Dockerrun.aws.json, compose: compose/docker-compose.yml }
    stages: [{ environment: compose-dev, tags: ['v*'] }]
  single:
    images: [single]
    bundle: { dockerrun: single/Dockerrun.aws.json }
    stages: [{ environment: single-dev, tags: ['v*'] }]
`,
  'api/Dockerrun.aws.json': JSON.stringify({
    AWSEBDockerrunVersion: 2,
    containerDefinitions: [
      { name: 'web', image: '{{image:api}}' },
      { name: 'sidecar', image: '{{image:ghost}}', memory: 64 },
    ],
  }),
  'api/Dockerfile': 'FROM scratch\n',
  'compose/Dockerrun.aws.json': '{"AWSEBDockerrunVersion":"3"}',
  'compose/docker-compose.yml': 'services:\n  web:\n    build: .\n',
  'single/Dockerrun.aws.json': '{"AWSEBDockerrunVersion":"1","Image":{"Name":"{{image:single}}"}}',
};

const expected: Array<[string, RegExp]> = [
  ['install.logRetentionDays', /one of 1, 3, 5, 7, 14, 30/],
  ['applications.api.bundle.files', /files is not a setting here/],
  ['applications.api.stages.0.tags.0', /"regex:\(a" is not a regular expression .*RE2/],
  ['applications.api.stages.0.tags.1', /"semver:not a range" is not a valid semver range/],
  ['applications.api.stages.1.tags.0', /"regex:\^\(\?=v\)" .*no lookaround/],
  ['applications.api.stages.1.approval.timeout', /a duration must be positive/],
  ['applications.api.health.timeout', /a duration must be positive/],
  ['applications.api.stages.1.environment', /api-dev is an earlier stage of this application/],
  ['applications.api.bundle.ebextensions', /cannot read the \.ebextensions folder .*missing-ext/],
  ['applications.api.bundle.include.0', /cannot read api\/\.platform/],
  ['applications.api.bundle.include.1', /Dockerfile is a Dockerfile/],
  ['applications.api.bundle.dockerrun', /uses \{\{image:ghost\}\}, but ghost is not one of this application's images/],
  ['applications.api.images.1', /no bundle template uses \{\{image:api-unused\}\}/],
  ['applications.api.bundle.dockerrun', /containerDefinitions\[0\] needs memory or memoryReservation/],
  ['applications.web.bundle.dockerrun', /cannot read the Dockerrun template .*nowhere\.json/],
  ['applications.compose.bundle.compose', /service web must name an image and must not build/],
  ['applications.compose.images.0', /no bundle template uses \{\{image:compose\}\}/],
  ['applications.single.bundle.dockerrun', /version 1 needs Ports/],
];

describe('the one validator', () => {
  it('names every problem of a configuration at once, each with its path', () => {
    const { problems, config } = validateConfigFile(project(manyMistakes));
    expect(config).toBeUndefined();
    for (const [path, message] of expected) {
      expect(
        problems.some((problem) => problem.path === path && message.test(problem.message)),
        `${path}: ${message}\n${problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`,
      ).toBe(true);
    }
    expect(problems).toHaveLength(expected.length);
  });

  it('is what loadConfig (every Lambda, plan, local) throws, and what serverless.yml\'s variables refuse', () => {
    const path = project(manyMistakes);
    expect(() => loadConfig(path)).toThrow(ConfigurationError);
    const thrown = (() => {
      try {
        loadConfig(path);
      } catch (error) {
        return (error as Error).message;
      }
    })();
    const previous = process.env.GREENLIGHT_CONFIG;
    process.env.GREENLIGHT_CONFIG = path;
    try {
      const vars = createRequire(import.meta.url)('../../deploy/greenlight-vars.cjs') as () => unknown;
      expect(vars).toThrow(/is not a valid greenlight configuration/);
      let packaged = '';
      try {
        vars();
      } catch (error) {
        packaged = (error as Error).message;
      }
      for (const [path] of expected) {
        expect(thrown).toContain(`${path}: `);
        expect(packaged).toContain(`${path}: `);
      }
    } finally {
      if (previous === undefined) delete process.env.GREENLIGHT_CONFIG;
      else process.env.GREENLIGHT_CONFIG = previous;
    }
  });

  it('accepts a configuration whose bundles all render, and the shipped one', () => {
    const path = project({
      'greenlight.yml': 'applications:\n  api:\n    images: [api]\n    bundle: { dockerrun: Dockerrun.aws.json }\n    stages: [{ environment: api-dev, tags: ["v*", "regex:^(a+)+$"] }]\n',
      'Dockerrun.aws.json': v1('api'),
    });
    expect(validateConfigFile(path)).toMatchObject({ problems: [], warnings: [] });
    expect(validateConfigFile(new URL('../../greenlight.yml', import.meta.url).pathname)).toMatchObject({ problems: [], warnings: [] });
  });

  it('accepts only the retention periods CloudWatch Logs knows', () => {
    const text = (days: number) => `install: { logRetentionDays: ${days} }\napplications: {}\n`;
    expect(validateConfigText(text(30)).problems).toEqual([]);
    expect(validateConfigText(text(2)).problems).toEqual([{ path: 'install.logRetentionDays', message: expect.stringContaining('3653') }]);
  });

  it('checks no file when it does not know where the configuration lives (parseConfig of text)', () => {
    expect(parseConfig('applications:\n  api:\n    images: [api]\n    bundle: { dockerrun: nowhere.json }\n    stages: [{ environment: api-dev, tags: ["v*"] }]\n').applications.api?.images).toEqual(['api']);
  });
});

describe('warnings', () => {
  const stages = (...tags: string[][]) => parseConfig(`applications:\n  api:\n    images: [api]\n    bundle: { dockerrun: x.json }\n    stages:\n${tags.map((t, i) => `      - environment: api-s${i}\n        tags: ${JSON.stringify(t)}\n`).join('')}`);

  it('warns about a stage no tag that reaches the previous one can match', () => {
    expect(unreachableStages(stages(['git_*'], ['v*'], ['semver:>=1.0.0']))).toEqual([
      { path: 'applications.api.stages.1', message: expect.stringMatching(/stage api-s1 looks unreachable: no tag that reaches api-s0 \(git_\*\) can match v\*.*nor can the stages after it/) },
    ]);
    expect(unreachableStages(stages(['semver:<1.0.0'], ['semver:>=1.0.0']))).toHaveLength(1);
    expect(unreachableStages(stages(['latest']))).toEqual([{ path: 'applications.api.stages.0', message: expect.stringContaining('latest never deploys') }]);
  });

  it('stays quiet where a tag gets through, and where a regex makes it impossible to tell', () => {
    expect(unreachableStages(stages(['v*', 'git_*'], ['semver:>=1.0.0'], ['v1.*']))).toEqual([]);
    expect(unreachableStages(stages(['release-*'], ['*-rc*']))).toEqual([]);
    expect(unreachableStages(stages(['git_*'], ['regex:^v\\d+$']))).toEqual([]);
  });

  it('warns, without refusing, about a volume mounted from the bundle that the bundle does not hold', () => {
    const dockerrun = {
      AWSEBDockerrunVersion: 2,
      volumes: [{ name: 'conf', host: { sourcePath: '/var/app/current/proxy/conf.d' } }],
      containerDefinitions: [{ name: 'web', image: '{{image:api}}', memory: 128, mountPoints: [{ sourceVolume: 'conf', containerPath: '/etc/nginx/conf.d' }] }],
    };
    const path = project({
      'greenlight.yml': 'applications:\n  api:\n    images: [api]\n    bundle: { dockerrun: Dockerrun.aws.json }\n    stages: [{ environment: api-dev, tags: ["v*"] }]\n',
      'Dockerrun.aws.json': JSON.stringify(dockerrun),
    });
    const { problems, warnings } = validateConfigFile(path);
    expect(problems).toEqual([]);
    expect(warnings).toEqual([{ path: 'applications.api.bundle.dockerrun', message: expect.stringMatching(/volumes\[0\] mounts \/var\/app\/current\/proxy\/conf\.d, but the bundle holds nothing at proxy\/conf\.d/) }]);
  });
});

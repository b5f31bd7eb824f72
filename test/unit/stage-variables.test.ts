import { describe, expect, it } from 'vitest';
import { validateConfigText } from '../../shared/config/validate.ts';
import { planStages } from '../../shared/tag-policy.ts';
import { parseConfig } from '../../shared/config/load.ts';

/** A configuration whose staging stage has the given `environmentVariables:` (YAML flow mapping). */
const withVariables = (variables: string) => `
applications:
  api:
    images: [api]
    bundle: { dockerrun: Dockerrun.aws.json }
    stages:
      - environment: api-dev
        tags: ['v*']
        environmentVariables: { LOG_LEVEL: debug }
      - environment: api-staging
        tags: ['v*']
        environmentVariables: ${variables}
`;

const problemsOf = (variables: string) => validateConfigText(withVariables(variables)).problems.map((p) => `${p.path}: ${p.message}`);

describe('per-stage environment variables in the configuration', () => {
  it('accepts letters, digits and underscores, and values up to 4096 characters', () => {
    expect(problemsOf(`{ LOG_LEVEL: info, _PRIVATE: x, API_URL_2: 'https://staging.example.com', EMPTY: '' }`)).toEqual([]);
    expect(problemsOf(`{ BIG: '${'x'.repeat(4090)}' }`)).toEqual([]);
  });

  it.each([
    ['a hyphen', 'LOG-LEVEL'],
    ['a dot', 'log.level'],
    ['a space', "'LOG LEVEL'"],
    ['a leading digit', '1PASSWORD'],
    ['an empty name', "''"],
    ['a name over 128 characters', 'A'.repeat(129)],
  ])('refuses a name with %s, naming its path', (_, name) => {
    const problems = problemsOf(`{ ${name}: x }`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^applications\.api\.stages\.1\.environmentVariables\..*: ".*": an environment variable name is 1–128 letters, digits and underscores/);
  });

  it('refuses a value over 4096 characters, and more than 4096 bytes of NAME=value together', () => {
    expect(problemsOf(`{ BIG: '${'x'.repeat(4097)}' }`)).toContainEqual(
      expect.stringMatching(/^applications\.api\.stages\.1\.environmentVariables\.BIG: an environment variable value is at most 4096 characters/),
    );
    expect(problemsOf(`{ A: '${'x'.repeat(3000)}', B: '${'x'.repeat(3000)}' }`)).toEqual([
      expect.stringMatching(/^applications\.api\.stages\.1\.environmentVariables: Elastic Beanstalk keeps at most 4096 bytes of environment properties/),
    ]);
  });

  it('refuses values that are not strings (quote numbers and booleans, as EB stores text)', () => {
    expect(problemsOf('{ PORT: 8080, DEBUG: true }')).toHaveLength(2);
  });

  it('carries each stage\'s own variables into the plan, and none for a stage without them', () => {
    const config = parseConfig(withVariables('{ LOG_LEVEL: info }').replace("        environmentVariables: { LOG_LEVEL: debug }\n", ''));
    const { stages } = planStages('v1.0.0', config.applications.api!.stages, 'api');
    expect(stages).toEqual([{ environment: 'api-dev' }, { environment: 'api-staging', environmentVariables: { LOG_LEVEL: 'info' } }]);
  });
});

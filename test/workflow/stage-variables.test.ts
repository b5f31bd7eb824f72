import { DescribeEnvironmentsCommand } from '@aws-sdk/client-elastic-beanstalk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline } from './harness.ts';

const configPath = new URL('../fixtures/stage-variables.greenlight.yml', import.meta.url).pathname;
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ configPath });
});
afterAll(() => pipeline?.close());

const namespace = 'aws:elasticbeanstalk:application:environment';
const variables = (environment: string) =>
  Object.fromEntries(
    pipeline.stack.aws.eb
      .optionSettings(environment)
      .filter((setting) => setting.Namespace === namespace)
      .map((setting) => [setting.OptionName, setting.Value]),
  );

describe('per-stage environment variables', () => {
  it('promotes the same version (same bundle bytes) to dev and staging, each environment with its own variables', async () => {
    const run = await pipeline.deploy('hello-api', 'v1.2.3');
    expect(run.description.status).toBe('SUCCEEDED');
    const [dev, staging] = run.output.stages as Array<{ environment: string; release: { versionLabel: string; sha256: string; key: string } }>;
    expect([dev?.environment, staging?.environment]).toEqual(['hello-api-dev', 'hello-api-staging']);
    expect(staging?.release).toEqual(dev?.release);

    const { Environments = [] } = await pipeline.eb.send(new DescribeEnvironmentsCommand({ EnvironmentNames: ['hello-api-dev', 'hello-api-staging'] }));
    expect(Environments.map((e) => [e.EnvironmentName, e.VersionLabel, e.Status, e.Health]).sort()).toEqual([
      ['hello-api-dev', dev?.release.versionLabel, 'Ready', 'Green'],
      ['hello-api-staging', dev?.release.versionLabel, 'Ready', 'Green'],
    ]);

    expect(variables('hello-api-dev')).toEqual({ LOG_LEVEL: 'debug', API_URL: 'https://dev.example.com' });
    expect(variables('hello-api-staging')).toEqual({
      LOG_LEVEL: 'info',
      API_URL: 'https://staging.example.com',
      DB_PASSWORD_PARAMETER: '/hello-api/staging/db-password',
    });
  });
});

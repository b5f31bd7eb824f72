import { readFileSync } from 'node:fs';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config/load.ts';
import { readPushEvent, startDeployment } from '../../shared/trigger.ts';

const event = (name: string) => JSON.parse(readFileSync(new URL(`../../events/${name}.json`, import.meta.url), 'utf8'));
const sfn = mockClient(SFNClient);
const config = parseConfig(`
applications:
  hello-api:
    images: [hello-api]
    bundle: { dockerrun: Dockerrun.aws.json }
    stages: [{ environment: hello-api-dev, tags: ['v*'] }]
`);
const stateMachineArn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:pipeline';

beforeEach(() => sfn.reset());

describe('reading push events', () => {
  it('reads repository, tag and digest from the ECR Image Action event', () => {
    expect(readPushEvent(event('ecr-image-push'))).toEqual({
      push: { repository: 'hello-api', tag: 'v1.2.3', digest: 'sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd' },
    });
  });

  it('reads who pushed from CloudTrail PutImage', () => {
    const reading = readPushEvent(event('cloudtrail-put-image'));
    expect(reading).toMatchObject({ push: { repository: 'hello-api', tag: 'v1.2.3', pushedBy: 'arn:aws:sts::123456789012:assumed-role/ci-pusher/github-actions-4711' } });
  });

  it('ignores deletions, digest-only pushes, failures and other events, saying why', () => {
    expect(readPushEvent(event('ecr-image-delete'))).toEqual({ ignored: 'action DELETE is not a push' });
    expect(readPushEvent(event('ecr-image-push-digest-only'))).toMatchObject({ ignored: expect.stringContaining('digest-only') });
    const failed = event('ecr-image-push');
    failed.detail.result = 'FAILURE';
    expect(readPushEvent(failed)).toMatchObject({ ignored: expect.stringContaining('FAILURE') });
    expect(readPushEvent({ source: 'aws.s3' })).toMatchObject({ ignored: expect.stringContaining('not an ECR push') });
  });
});

describe('starting a deployment', () => {
  const push = { repository: 'hello-api', tag: 'v1.2.3', digest: `sha256:${'ab'.repeat(32)}` };

  it('names the execution after app, tag and digest, with the push alone as input', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec' });
    const outcome = await startDeployment({ sfn: sfn as unknown as SFNClient }, { config, stateMachineArn, push });
    expect(outcome).toMatchObject({ started: true, application: 'hello-api', executionName: 'hello-api-v1-2-3-abababababababab' });
    expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input).toMatchObject({
      stateMachineArn,
      name: 'hello-api-v1-2-3-abababababababab',
      input: JSON.stringify({ image: push }),
    });
  });

  it('treats ExecutionAlreadyExists as a repeated event, not an error', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    const outcome = await startDeployment({ sfn: sfn as unknown as SFNClient }, { config, stateMachineArn, push });
    expect(outcome).toMatchObject({ started: false, reason: expect.stringContaining('repeated') });
  });

  it('does nothing for a repository outside the configuration', async () => {
    const outcome = await startDeployment({ sfn: sfn as unknown as SFNClient }, { config, stateMachineArn, push: { ...push, repository: 'other' } });
    expect(outcome).toMatchObject({ started: false, reason: expect.stringContaining('not part of any configured application') });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

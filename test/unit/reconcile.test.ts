import { DescribeImagesCommand, ECRClient, type ImageDetail, RepositoryNotFoundException } from '@aws-sdk/client-ecr';
import { DescribeExecutionCommand, ExecutionAlreadyExists, ExecutionDoesNotExist, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config/load.ts';
import { toPipelineError } from '../../shared/errors.ts';
import { executionArn, executionName } from '../../shared/naming.ts';
import { reconcilePushes } from '../../shared/reconcile.ts';
import { startDeployment } from '../../shared/trigger.ts';

// Mocked at class level and used through real instances: the SDK's paginators check the client's class.
const ecr = mockClient(ECRClient);
const sfn = mockClient(SFNClient);
const clients = { ecr: new ECRClient({ region: 'eu-west-1' }), sfn: new SFNClient({ region: 'eu-west-1' }) };
const config = parseConfig(`
applications:
  hello-api:
    images: [hello-api]
    bundle: { dockerrun: Dockerrun.aws.json }
    stages: [{ environment: hello-api-dev, tags: ['v*'] }]
  shop:
    images: [shop-client, shop-server]
    bundle: { dockerrun: Dockerrun.aws.json }
    stages: [{ environment: shop-dev, tags: ['v*'] }]
`);
const stateMachineArn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:greenlight-prod-deploy-pipeline';
const now = new Date('2026-11-22T12:00:00Z');
const windowSeconds = 3600;
const run = () => reconcilePushes(clients, { config, stateMachineArn, now, windowSeconds });

const digest = (n: number) => `sha256:${n.toString(16).padStart(2, '0').repeat(32)}`;
const image = (n: number, tags: string[] | undefined, secondsAgo: number): ImageDetail => ({
  imageDigest: digest(n),
  ...(tags ? { imageTags: tags } : {}),
  imagePushedAt: new Date(now.getTime() - secondsAgo * 1000),
});

/** ECR answers per repository; repositories not listed have no images. */
function repositories(images: Record<string, ImageDetail[]>) {
  ecr.on(DescribeImagesCommand).callsFake((input: { repositoryName: string }) => ({ imageDetails: images[input.repositoryName] ?? [] }));
}

/** Step Functions knows only these execution names. */
function existingExecutions(...names: string[]) {
  const arns = new Set(names.map((name) => executionArn(stateMachineArn, name)));
  sfn.on(DescribeExecutionCommand).callsFake((input: { executionArn: string }) => {
    if (arns.has(input.executionArn)) return { executionArn: input.executionArn, status: 'SUCCEEDED' };
    throw new ExecutionDoesNotExist({ message: `Execution Does Not Exist: '${input.executionArn}'`, $metadata: {} });
  });
  sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({ executionArn: executionArn(stateMachineArn, input.name), startDate: now }));
}

beforeEach(() => {
  ecr.reset();
  sfn.reset();
});

describe('the reconciler', () => {
  it('starts a push no execution handled, under the name and with the input the event path uses', async () => {
    repositories({ 'hello-api': [image(1, ['v1.2.3'], 60)] });
    existingExecutions();
    const summary = await run();

    const name = executionName('hello-api', { tag: 'v1.2.3', digest: digest(1) });
    expect(summary.started).toEqual([{ executionName: name, repository: 'hello-api', tag: 'v1.2.3', digest: digest(1) }]);
    expect(sfn.commandCalls(DescribeExecutionCommand)[0]!.args[0].input.executionArn).toBe(
      `arn:aws:states:eu-west-1:123456789012:execution:greenlight-prod-deploy-pipeline:${name}`,
    );

    // Byte for byte what on-image-pushed writes, so Step Functions dedupes a late event against it.
    const reconciled = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    sfn.resetHistory();
    await startDeployment({ sfn: clients.sfn }, { config, stateMachineArn, push: { repository: 'hello-api', tag: 'v1.2.3', digest: digest(1), pushedBy: 'arn:aws:iam::123456789012:user/ci' } });
    expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input).toEqual(reconciled);
    expect(reconciled).toEqual({ stateMachineArn, name, input: JSON.stringify({ image: { repository: 'hello-api', tag: 'v1.2.3', digest: digest(1) } }) });
  });

  it('asks ECR for tagged images only and keeps those pushed within the window, its start included', async () => {
    repositories({ 'hello-api': [image(1, ['v1.0.0'], windowSeconds), image(2, ['v0.9.0'], windowSeconds + 0.001), image(3, ['v1.1.0'], 0)] });
    existingExecutions();
    const summary = await run();

    expect(summary.window).toEqual({ from: '2026-11-22T11:00:00.000Z', to: '2026-11-22T12:00:00.000Z' });
    expect(summary.started.map((push) => push.tag)).toEqual(['v1.0.0', 'v1.1.0']);
    expect(summary).toMatchObject({ images: 2, tags: 2, alreadyHandled: 0 });
    for (const call of ecr.commandCalls(DescribeImagesCommand)) expect(call.args[0].input.filter).toEqual({ tagStatus: 'TAGGED' });
  });

  it('starts each tag of an image as its own push, and skips an untagged image with a reason', async () => {
    repositories({ 'hello-api': [image(1, ['git_abc', 'v2.0.0'], 10), image(2, undefined, 10)] });
    existingExecutions();
    const summary = await run();

    expect(summary.started.map((push) => [push.tag, push.digest])).toEqual([
      ['git_abc', digest(1)],
      ['v2.0.0', digest(1)],
    ]);
    expect(summary.skipped).toEqual([{ repository: 'hello-api', digest: digest(2), reason: expect.stringContaining('untagged') }]);
    expect(summary).toMatchObject({ images: 2, tags: 2 });
  });

  it('leaves alone a push that already has an execution, in any status, and counts it as handled', async () => {
    repositories({ 'hello-api': [image(1, ['v1.0.0'], 10), image(2, ['v1.0.1'], 10)] });
    existingExecutions(executionName('hello-api', { tag: 'v1.0.0', digest: digest(1) }));
    const summary = await run();

    expect(summary.alreadyHandled).toBe(1);
    expect(summary.started.map((push) => push.tag)).toEqual(['v1.0.1']);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('counts a push started by its event between the look and the start as handled, not as an error', async () => {
    repositories({ 'hello-api': [image(1, ['v1.0.0'], 10)] });
    existingExecutions();
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    const summary = await run();

    expect(summary).toMatchObject({ started: [], alreadyHandled: 1, skipped: [] });
  });

  it('skips a repository missing from ECR with a reason and still sweeps the others', async () => {
    ecr.on(DescribeImagesCommand, { repositoryName: 'shop-client' }).rejects(new RepositoryNotFoundException({ message: "The repository with name 'shop-client' does not exist", $metadata: {} }));
    ecr.on(DescribeImagesCommand, { repositoryName: 'shop-server' }).resolves({ imageDetails: [image(1, ['v3.0.0'], 10)] });
    ecr.on(DescribeImagesCommand, { repositoryName: 'hello-api' }).resolves({ imageDetails: [] });
    existingExecutions();
    const summary = await run();

    expect(summary.skipped).toEqual([{ repository: 'shop-client', reason: expect.stringContaining('does not exist') }]);
    expect(summary.started).toEqual([expect.objectContaining({ repository: 'shop-server', tag: 'v3.0.0', executionName: executionName('shop', { tag: 'v3.0.0', digest: digest(1) }) })]);
  });

  it('reads every page of a repository', async () => {
    const pages: Record<string, { imageDetails: ImageDetail[]; nextToken?: string }> = {
      first: { imageDetails: [image(1, ['v1.0.0'], 10)], nextToken: 'page-2' },
      'page-2': { imageDetails: [image(2, ['v1.0.1'], 10)], nextToken: 'page-3' },
      'page-3': { imageDetails: [image(3, ['v1.0.2'], 10)] },
    };
    const tokens: Array<string | undefined> = [];
    ecr.on(DescribeImagesCommand).callsFake((input: { repositoryName: string; nextToken?: string }) => {
      if (input.repositoryName !== 'hello-api') return { imageDetails: [] };
      tokens.push(input.nextToken);
      return pages[input.nextToken ?? 'first'];
    });
    existingExecutions();
    const summary = await run();

    expect(tokens).toEqual([undefined, 'page-2', 'page-3']);
    expect(summary.started.map((push) => push.tag)).toEqual(['v1.0.0', 'v1.0.1', 'v1.0.2']);
  });

  it('skips a tag the event path would refuse too (a digest that is not sha256)', async () => {
    repositories({ 'hello-api': [{ imageDigest: 'sha512:abc', imageTags: ['v1.0.0'], imagePushedAt: now }] });
    existingExecutions();
    const summary = await run();

    expect(summary.started).toEqual([]);
    expect(summary.skipped).toEqual([{ repository: 'hello-api', digest: 'sha512:abc', tag: 'v1.0.0', reason: expect.stringContaining('not a deployable push') }]);
  });

  it('lets throttling surface, so the runtime reports it as TransientAwsError', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    ecr.on(DescribeImagesCommand).rejects(throttled);
    existingExecutions();
    const error = await run().catch((thrown: unknown) => thrown);
    expect(toPipelineError(error)).toMatchObject({ name: 'TransientAwsError' });

    ecr.reset();
    repositories({ 'hello-api': [image(1, ['v1.0.0'], 10)] });
    sfn.on(DescribeExecutionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    expect(toPipelineError(await run().catch((thrown: unknown) => thrown))).toMatchObject({ name: 'TransientAwsError' });
  });
});

describe('executionArn', () => {
  it('puts the execution name under the state machine, in any partition', () => {
    expect(executionArn('arn:aws-cn:states:cn-north-1:123456789012:stateMachine:pipe', 'run-1')).toBe('arn:aws-cn:states:cn-north-1:123456789012:execution:pipe:run-1');
    expect(() => executionArn('arn:aws:lambda:eu-west-1:123456789012:function:f', 'x')).toThrow(/not a state machine ARN/);
  });
});

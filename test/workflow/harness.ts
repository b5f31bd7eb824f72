import { createHash } from 'node:crypto';
import { ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { callApprovalApi } from '../../cli/approval-client.ts';
import { readHistory } from '../../cli/watch.ts';
import type { Faults } from '../../local/faults.ts';
import { sampleManifest } from '../../local/services/ecr.ts';
import { type GreenlightLocal, startGreenlightLocal } from '../../local/stack.ts';

/** A finished execution: what DescribeExecution says and its whole history. */
export interface Finished {
  description: DescribeExecutionCommandOutput;
  history: HistoryEvent[];
  output: Record<string, any>;
}

/**
 * The local pipeline for a workflow test: the real serverless.yml, statemachine file and handlers
 * on the local endpoint, driven only through the AWS SDK over HTTP, as CI and users drive it.
 */
export async function startPipeline(options: { configPath?: string; faults?: Partial<Faults>; schedules?: boolean } = {}) {
  const stack: GreenlightLocal = await startGreenlightLocal({ configPath: options.configPath, faults: options.faults, schedules: options.schedules ?? false });
  const config = { endpoint: stack.endpoint, region: stack.aws.region, credentials: { accessKeyId: 'ci', secretAccessKey: 'ci-secret' } };
  const ecr = new ECRClient(config);
  const sfn = new SFNClient(config);
  const s3 = new S3Client(config);
  const eb = new ElasticBeanstalkClient(config);

  /** Pushes as CI does (or as another local identity) and returns the digest ECR computed. */
  async function push(repository: string, tag: string, seed = `${repository}:${tag}`, as?: { accessKeyId: string; secretAccessKey: string }): Promise<string> {
    const manifest = sampleManifest(seed);
    const client = as ? new ECRClient({ ...config, credentials: as }) : ecr;
    const result = await client.send(new PutImageCommand({ repositoryName: repository, imageTag: tag, imageManifest: manifest }));
    return result.image!.imageId!.imageDigest!;
  }

  async function finish(executionArn: string): Promise<Finished> {
    await stack.aws.sfn.execution(executionArn).done;
    const description = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const history = await readHistory(sfn, executionArn);
    return { description, history, output: description.output ? JSON.parse(description.output) : {} };
  }

  /**
   * Every execution so far, newest first, finished; those in `except` left out (a test that follows
   * new executions would otherwise read every earlier execution's whole history again each time).
   */
  async function executions(except: ReadonlySet<string> = new Set()): Promise<Finished[]> {
    await stack.aws.bus.settle();
    const { executions: list = [] } = await sfn.send(new ListExecutionsCommand({ stateMachineArn: stack.stateMachineArn }));
    return Promise.all(list.filter((e) => !except.has(e.executionArn!)).map((e) => finish(e.executionArn!)));
  }

  /** Pushes and follows the deployment that push started to its end. */
  async function deploy(repository: string, tag: string, seed?: string): Promise<Finished & { digest: string }> {
    const { executionArn, digest } = await start(repository, tag, seed);
    return { ...(await finish(executionArn)), digest };
  }

  /** Pushes and returns the execution the push started, still running. */
  async function start(repository: string, tag: string, seed?: string, as?: { accessKeyId: string; secretAccessKey: string }): Promise<{ executionArn: string; digest: string }> {
    const before = new Set((await sfn.send(new ListExecutionsCommand({ stateMachineArn: stack.stateMachineArn }))).executions?.map((e) => e.executionArn));
    const digest = await push(repository, tag, seed, as);
    await stack.aws.bus.settle();
    const { executions: list = [] } = await sfn.send(new ListExecutionsCommand({ stateMachineArn: stack.stateMachineArn }));
    const started = list.filter((e) => !before.has(e.executionArn));
    if (started.length !== 1) throw new Error(`expected one new execution after pushing ${repository}:${tag}, found ${started.length}`);
    return { executionArn: started[0]!.executionArn!, digest };
  }

  /** Delivers an ECR push event through EventBridge's PutEvents: a late or repeated delivery of a push. */
  async function deliverPushEvent(repository: string, digest: string, tag: string): Promise<void> {
    const events = new EventBridgeClient(config);
    const detail = { result: 'SUCCESS', 'action-type': 'PUSH', 'repository-name': repository, 'image-digest': digest, 'image-tag': tag };
    await events.send(new PutEventsCommand({ Entries: [{ Source: 'aws.ecr', DetailType: 'ECR Image Action', Detail: JSON.stringify(detail) }] }));
    await stack.aws.bus.settle();
  }

  /** Waits until the execution asks for approval and returns the pending record this approver sees. */
  async function pendingApproval(executionArn: string, approver: { accessKeyId: string; secretAccessKey: string }): Promise<any> {
    for (let attempt = 0; attempt < 300; attempt++) {
      const { pending } = (await callApprovalApi(stack.approvalUrl!, 'GET', '/pending', undefined, approver)) as { pending: Array<{ executionArn: string }> };
      const found = pending.find((p) => p.executionArn === executionArn);
      if (found) return found;
      const execution = stack.aws.sfn.execution(executionArn);
      if (execution.status !== 'RUNNING') throw new Error(`execution ended without asking for approval: ${execution.cause}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('no approval was requested');
  }

  /**
   * Waits until the execution has entered the named state (a test that overlaps pushes starts the next
   * one at a known point of the first, not after a sleep that a loaded machine outruns).
   */
  async function reached(executionArn: string, state: string): Promise<void> {
    for (let attempt = 0; attempt < 1500; attempt++) {
      if (statesEntered(await readHistory(sfn, executionArn)).includes(state)) return;
      const execution = stack.aws.sfn.execution(executionArn);
      if (execution.status !== 'RUNNING') throw new Error(`execution ended (${execution.status}) without entering ${state}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`execution did not enter ${state} within 15 s`);
  }

  async function objectKeys(bucket: string): Promise<string[]> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    return (listed.Contents ?? []).map((o) => o.Key!);
  }

  async function object(bucket: string, key: string): Promise<Uint8Array> {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return got.Body!.transformToByteArray();
  }

  return { stack, ecr, sfn, s3, eb, push, start, deploy, finish, reached, deliverPushEvent, pendingApproval, executions, objectKeys, object, close: () => stack.close() };
}

export type Pipeline = Awaited<ReturnType<typeof startPipeline>>;

/** The digest ECR gives the sample manifest of a seed (to mark an image as failing before it is pushed). */
export function digestOfSample(seed: string): string {
  return `sha256:${createHash('sha256').update(sampleManifest(seed)).digest('hex')}`;
}

/** The names of the states entered, in order, e.g. to assert the path an execution took. */
export function statesEntered(history: HistoryEvent[]): string[] {
  return history.filter((e) => e.stateEnteredEventDetails).map((e) => e.stateEnteredEventDetails!.name!);
}

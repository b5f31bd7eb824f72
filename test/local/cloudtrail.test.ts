import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CloudTrailClient,
  InvalidLookupAttributesException,
  InvalidMaxResultsException,
  InvalidNextTokenException,
  InvalidTimeRangeException,
  LookupEventsCommand,
} from '@aws-sdk/client-cloudtrail';
import { ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleManifest } from '../../local/services/ecr.ts';
import { type LocalAws, startLocalAws } from '../../local/server.ts';
import { installed } from '../tools.ts';

const ci = { accessKeyId: 'ci', secretAccessKey: 'ci-secret' };
const carol = { accessKeyId: 'carol', secretAccessKey: 'carol-secret' };
const hasAwsCli = installed('aws');

let aws: LocalAws;
let cloudtrail: CloudTrailClient;
let digest: string;
let before: Date;

const client = <C>(Client: new (config: object) => C, credentials = { accessKeyId: 'local', secretAccessKey: 'local' }) =>
  new Client({ endpoint: aws.endpoint, region: aws.region, credentials, maxAttempts: 1 });

async function push(credentials: typeof ci, repository: string, tag: string, seed: string): Promise<string> {
  const pushed = await client(ECRClient, credentials).send(new PutImageCommand({ repositoryName: repository, imageTag: tag, imageManifest: sampleManifest(seed) }));
  return pushed.image!.imageId!.imageDigest!;
}

const putImages = { LookupAttributes: [{ AttributeKey: 'EventName' as const, AttributeValue: 'PutImage' }] };

beforeAll(async () => {
  aws = await startLocalAws({ port: 0 });
  aws.ecr.createRepository('api');
  aws.ecr.createRepository('web');
  cloudtrail = client(CloudTrailClient);
  before = new Date(Date.now() - 1000);
  digest = await push(ci, 'api', 'v1.0.0', 'api-1');
  // The same bytes again under another tag, by someone else: a second push of one digest.
  await push(carol, 'api', 'carol-copy', 'api-1');
  await push(ci, 'web', 'v1.0.0', 'web-1');
  // A failed PutImage (the image and tag are there already) pushes nothing.
  await push(carol, 'api', 'v1.0.0', 'api-1').catch(() => undefined);
});
afterAll(() => aws?.close());

describe('CloudTrail LookupEvents on the local endpoint', () => {
  it('tells who pushed each digest: every PutImage with its caller, newest first, the record as a JSON string', async () => {
    const { Events = [] } = await cloudtrail.send(new LookupEventsCommand(putImages));
    expect(Events).toHaveLength(3);
    expect(Events.map((e) => e.Username)).toEqual(['ci', 'carol', 'ci']);
    const [, second, first] = Events;
    expect(first).toMatchObject({ EventName: 'PutImage', EventSource: 'ecr.amazonaws.com', ReadOnly: 'false', AccessKeyId: 'ci', Resources: [{ ResourceType: 'AWS::ECR::Repository', ResourceName: 'api' }] });
    expect(first!.EventTime).toBeInstanceOf(Date);
    const record = JSON.parse(first!.CloudTrailEvent!);
    expect(record).toMatchObject({
      eventID: first!.EventId,
      eventName: 'PutImage',
      userIdentity: { type: 'AssumedRole', arn: 'arn:aws:sts::000000000000:assumed-role/ci-pusher/ci' },
      requestParameters: { repositoryName: 'api', imageTag: 'v1.0.0' },
      responseElements: { image: { imageId: { imageDigest: digest } } },
    });
    expect(JSON.parse(second!.CloudTrailEvent!)).toMatchObject({
      userIdentity: { arn: 'arn:aws:sts::000000000000:assumed-role/release-managers/carol' },
      responseElements: { image: { imageId: { imageDigest: digest, imageTag: 'carol-copy' } } },
    });
  });

  it('looks up by one attribute: resource name, user name, access key, event id', async () => {
    const byResource = await cloudtrail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: 'web' }] }));
    expect(byResource.Events?.map((e) => JSON.parse(e.CloudTrailEvent!).requestParameters.repositoryName)).toEqual(['web']);
    const byUser = await cloudtrail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'carol' }] }));
    expect(byUser.Events).toHaveLength(1);
    const byKey = await cloudtrail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'AccessKeyId', AttributeValue: 'ci' }] }));
    expect(byKey.Events).toHaveLength(2);
    const id = byUser.Events![0]!.EventId!;
    const byId = await cloudtrail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventId', AttributeValue: id }] }));
    expect(byId.Events?.map((e) => e.EventId)).toEqual([id]);
  });

  it('keeps to the time range asked for', async () => {
    const later = new Date(Date.now() + 60_000);
    expect((await cloudtrail.send(new LookupEventsCommand({ ...putImages, StartTime: later, EndTime: new Date(later.getTime() + 1000) }))).Events).toEqual([]);
    expect((await cloudtrail.send(new LookupEventsCommand({ ...putImages, StartTime: before, EndTime: later }))).Events).toHaveLength(3);
    expect((await cloudtrail.send(new LookupEventsCommand({ ...putImages, EndTime: before }))).Events).toEqual([]);
  });

  it('pages with MaxResults and NextToken, and refuses a token of another question', async () => {
    const first = await cloudtrail.send(new LookupEventsCommand({ ...putImages, MaxResults: 2 }));
    expect(first.Events).toHaveLength(2);
    expect(first.NextToken).toBeTruthy();
    const second = await cloudtrail.send(new LookupEventsCommand({ ...putImages, MaxResults: 2, NextToken: first.NextToken }));
    expect(second.Events).toHaveLength(1);
    expect(second.NextToken).toBeUndefined();
    expect(new Set([...first.Events!, ...second.Events!].map((e) => e.EventId)).size).toBe(3);
    const other = cloudtrail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'ci' }], NextToken: first.NextToken }));
    await expect(other).rejects.toBeInstanceOf(InvalidNextTokenException);
  });

  it('refuses what CloudTrail refuses: two lookup attributes, MaxResults over 50, a start after the end', async () => {
    const two = [...putImages.LookupAttributes, { AttributeKey: 'Username' as const, AttributeValue: 'ci' }];
    await expect(cloudtrail.send(new LookupEventsCommand({ LookupAttributes: two }))).rejects.toBeInstanceOf(InvalidLookupAttributesException);
    await expect(cloudtrail.send(new LookupEventsCommand({ MaxResults: 51 }))).rejects.toBeInstanceOf(InvalidMaxResultsException);
    await expect(cloudtrail.send(new LookupEventsCommand({ StartTime: new Date(), EndTime: before }))).rejects.toBeInstanceOf(InvalidTimeRangeException);
  });

  it.skipIf(!hasAwsCli)('answers the AWS CLI: aws cloudtrail lookup-events', async () => {
    const { stdout } = await promisify(execFile)(
      'aws',
      ['cloudtrail', 'lookup-events', '--lookup-attributes', 'AttributeKey=EventName,AttributeValue=PutImage', '--endpoint-url', aws.endpoint, '--region', aws.region, '--output', 'json'],
      { env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_PAGER: '' } },
    );
    const { Events } = JSON.parse(stdout) as { Events: Array<{ Username: string; CloudTrailEvent: string }> };
    expect(Events.map((e) => e.Username)).toEqual(['ci', 'carol', 'ci']);
    expect(JSON.parse(Events[2]!.CloudTrailEvent).responseElements.image.imageId.imageDigest).toBe(digest);
  });
});

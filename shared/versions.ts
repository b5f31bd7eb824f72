import type { ApplicationVersionDescription, ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { CreateApplicationVersionCommand, DescribeApplicationVersionsCommand, DescribeEventsCommand } from '@aws-sdk/client-elastic-beanstalk';
import type { StoredBundle, VersionStatus } from './contracts.ts';
import { VersionConflictError, VersionProcessingFailedError } from './errors.ts';

async function describeVersion(eb: ElasticBeanstalkClient, application: string, versionLabel: string): Promise<ApplicationVersionDescription | undefined> {
  const { ApplicationVersions = [] } = await eb.send(new DescribeApplicationVersionsCommand({ ApplicationName: application, VersionLabels: [versionLabel] }));
  return ApplicationVersions.find((version) => version.VersionLabel === versionLabel);
}

/** EB returns statuses in UPPER case while the SDK enum is Title case: compare lower-cased. */
function statusOf(version: ApplicationVersionDescription): string {
  return (version.Status ?? 'unprocessed').toLowerCase();
}

function isAlreadyExists(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  return e?.name === 'InvalidParameterValue' && /already exists/i.test(e.message ?? '');
}

async function failed(eb: ElasticBeanstalkClient, application: string, versionLabel: string): Promise<VersionProcessingFailedError> {
  let said: string[] = [];
  try {
    const { Events = [] } = await eb.send(
      new DescribeEventsCommand({ ApplicationName: application, VersionLabel: versionLabel, Severity: 'ERROR', MaxRecords: 5 }),
    );
    said = Events.map((event) => event.Message).filter((message): message is string => Boolean(message));
  } catch {
    // The events only enrich the message; the failure stands without them.
  }
  const cause = said.length > 0 ? ` EB said: ${said.map((m) => JSON.stringify(m)).join('; ')}.` : '';
  return new VersionProcessingFailedError(
    `Elastic Beanstalk could not process application version ${versionLabel} of ${application}.${cause} Processing validates only .ebextensions/*.config (YAML/JSON syntax, option names and values) and env.yaml, so look there; delete the failed version before pushing the same content again.`,
    { application, versionLabel, events: said },
  );
}

/**
 * Registers the bundle as an application version, reusing an existing one with the same bundle so a
 * retried state does not fail, and refusing a label that points at other bytes.
 */
export async function createVersion(
  { eb }: { eb: ElasticBeanstalkClient },
  input: { application: string; bundle: StoredBundle },
): Promise<VersionStatus> {
  const { application, bundle } = input;
  const reuse = async (existing: ApplicationVersionDescription): Promise<VersionStatus> => {
    const source = existing.SourceBundle;
    if (source?.S3Bucket !== bundle.bucket || source?.S3Key !== bundle.key) {
      throw new VersionConflictError(
        `application version ${bundle.versionLabel} of ${application} already exists with bundle s3://${source?.S3Bucket}/${source?.S3Key}, not s3://${bundle.bucket}/${bundle.key}`,
        { application, versionLabel: bundle.versionLabel, existing: source, wanted: { bucket: bundle.bucket, key: bundle.key } },
      );
    }
    const status = statusOf(existing);
    if (status === 'failed') throw await failed(eb, application, bundle.versionLabel);
    return { application, versionLabel: bundle.versionLabel, status, created: false };
  };

  const existing = await describeVersion(eb, application, bundle.versionLabel);
  if (existing) return reuse(existing);
  try {
    const { ApplicationVersion } = await eb.send(
      new CreateApplicationVersionCommand({
        ApplicationName: application,
        VersionLabel: bundle.versionLabel,
        Description: bundle.description,
        SourceBundle: { S3Bucket: bundle.bucket, S3Key: bundle.key },
        Process: true,
      }),
    );
    return { application, versionLabel: bundle.versionLabel, status: ApplicationVersion ? statusOf(ApplicationVersion) : 'unprocessed', created: true };
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    const raced = await describeVersion(eb, application, bundle.versionLabel);
    if (!raced) throw error;
    return reuse(raced);
  }
}

/** One look at an application version's processing status, for the state machine's wait loop. */
export async function checkVersion(
  { eb }: { eb: ElasticBeanstalkClient },
  input: { application: string; versionLabel: string },
): Promise<VersionStatus> {
  const version = await describeVersion(eb, input.application, input.versionLabel);
  if (!version) {
    throw new VersionProcessingFailedError(
      `application version ${input.versionLabel} of ${input.application} does not exist (deleted by a lifecycle rule or by hand?)`,
      { ...input },
    );
  }
  const status = statusOf(version);
  if (status === 'failed') throw await failed(eb, input.application, input.versionLabel);
  return { ...input, status, created: false };
}

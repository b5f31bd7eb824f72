import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';

/**
 * SDK clients, built once per cold start and only when first used (each client costs start-up time).
 * Region and endpoint come from the environment (`AWS_REGION`, `AWS_ENDPOINT_URL`), never from code.
 */
function lazy<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}

export const clients = {
  cloudtrail: lazy(() => new CloudTrailClient({})),
  ecr: lazy(() => new ECRClient({})),
  eb: lazy(() => new ElasticBeanstalkClient({})),
  s3: lazy(() => new S3Client({})),
  sfn: lazy(() => new SFNClient({})),
  sns: lazy(() => new SNSClient({})),
};

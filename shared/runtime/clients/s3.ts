import { S3Client } from '@aws-sdk/client-s3';
import { lazy } from '../lazy.ts';

/** The S3 client, one per cold start; its own module so a function loads only the SDK clients it calls (issue 12). Region and endpoint come from the environment (`AWS_REGION`, `AWS_ENDPOINT_URL`), never from code. */
export const s3 = lazy(() => new S3Client({}));

import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { lazy } from '../lazy.ts';

/** The CloudTrail client, one per cold start; its own module so a function loads only the SDK clients it calls (issue 12). Region and endpoint come from the environment (`AWS_REGION`, `AWS_ENDPOINT_URL`), never from code. */
export const cloudtrail = lazy(() => new CloudTrailClient({}));

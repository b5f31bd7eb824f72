import { SFNClient } from '@aws-sdk/client-sfn';
import { lazy } from '../lazy.ts';

/** The Step Functions client, one per cold start; its own module so a function loads only the SDK clients it calls (issue 12). Region and endpoint come from the environment (`AWS_REGION`, `AWS_ENDPOINT_URL`), never from code. */
export const sfn = lazy(() => new SFNClient({}));

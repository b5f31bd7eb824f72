import { ECRClient } from '@aws-sdk/client-ecr';
import { lazy } from '../lazy.ts';

/** The ECR client, one per cold start; its own module so a function loads only the SDK clients it calls (issue 12). Region and endpoint come from the environment (`AWS_REGION`, `AWS_ENDPOINT_URL`), never from code. */
export const ecr = lazy(() => new ECRClient({}));

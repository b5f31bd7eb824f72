import { ElasticBeanstalkClient } from '@aws-sdk/client-elastic-beanstalk';
import { lazy } from '../lazy.ts';

/** The Elastic Beanstalk client, one per cold start; its own module so a function loads only the SDK clients it calls (issue 12). Region and endpoint come from the environment (`AWS_REGION`, `AWS_ENDPOINT_URL`), never from code. */
export const eb = lazy(() => new ElasticBeanstalkClient({}));

/** Elastic Beanstalk, locally: now under elastic-beanstalk/ (lifecycle, bundle inspection, wire); kept so existing imports work. */
export * from './elastic-beanstalk/index.ts';

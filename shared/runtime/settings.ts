import { ConfigurationError } from '../errors.ts';

/** The environment variables the Lambdas read; serverless.yml sets them, and so does the local stack. */
export const settingNames = {
  /** The compiled greenlight configuration (shared/config/compiled.ts), shipped inside the Lambda package. */
  configFile: 'GREENLIGHT_CONFIG_FILE',
  bundleBucket: 'BUNDLE_BUCKET',
  auditBucket: 'AUDIT_BUCKET',
  /** Pending approvals and who pushed which image (for separation of duties). */
  approvalsBucket: 'APPROVALS_BUCKET',
  stateMachineArn: 'STATE_MACHINE_ARN',
  notificationTopicArn: 'NOTIFICATION_TOPIC_ARN',
} as const;

export type SettingKey = keyof typeof settingNames;
export type Settings<K extends SettingKey> = { readonly [P in K]: string };

/**
 * Reads the settings a function needs, once, at cold start: a missing one fails the whole set
 * with every missing name, so one deploy fixes them all.
 */
export function readSettings<K extends SettingKey>(keys: readonly K[], env: NodeJS.ProcessEnv = process.env): Settings<K> {
  const missing = keys.filter((key) => !env[settingNames[key]]);
  if (missing.length > 0) {
    throw new ConfigurationError(`missing environment variables: ${missing.map((key) => settingNames[key]).join(', ')} (serverless.yml sets them for every function that needs them)`, { missing });
  }
  return Object.fromEntries(keys.map((key) => [key, env[settingNames[key]] as string])) as Settings<K>;
}

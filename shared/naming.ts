/** Step Functions allows 80 characters in an execution name. */
const executionNameMax = 80;
/** Elastic Beanstalk allows 100 characters in a version label. */
const versionLabelMax = 100;

function sanitize(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '-');
}

/**
 * The Step Functions execution name of one push, deterministic so a repeated ECR event starts (or
 * finds) the same execution; the digest part is never truncated because it is what identifies the image.
 */
export function executionName(application: string, image: { tag: string; digest: string }): string {
  const digestPart = sanitize(image.digest.replace(/^sha256:/, '').slice(0, 16));
  const budget = executionNameMax - digestPart.length - 2;
  let app = sanitize(application);
  let tag = sanitize(image.tag);
  if (app.length + tag.length > budget) {
    const appMax = Math.max(budget - tag.length, Math.min(app.length, Math.floor(budget / 2)));
    app = app.slice(0, appMax);
    tag = tag.slice(0, budget - app.length);
  }
  return `${app}-${tag}-${digestPart}`;
}

/**
 * The ARN an execution of this state machine gets under `name`
 * (`arn:<partition>:states:<region>:<account>:execution:<state machine name>:<name>`), to look it up
 * without listing executions.
 */
export function executionArn(stateMachineArn: string, name: string): string {
  const parts = stateMachineArn.split(':');
  if (parts.length !== 7 || parts[2] !== 'states' || parts[5] !== 'stateMachine') throw new Error(`not a state machine ARN: ${stateMachineArn}`);
  return [...parts.slice(0, 5), 'execution', parts[6], name].join(':');
}

/** The EB version label of a bundle: people read the tag, the bundle hash keeps labels unique per content. */
export function versionLabel(tag: string, bundleSha256: string): string {
  const suffix = `-${bundleSha256.slice(0, 12)}`;
  return `${tag.slice(0, versionLabelMax - suffix.length)}${suffix}`;
}

/** The S3 key of a bundle, addressed by content so the same bytes are stored once. */
export function bundleKey(application: string, bundleSha256: string): string {
  return `bundles/${application}/${bundleSha256}.zip`;
}

/** Where an execution's release (the bundle its first stage chose) is written, once. */
export function releaseKey(application: string, execution: string): string {
  return `releases/${encodeURIComponent(application)}/${execution}.json`;
}

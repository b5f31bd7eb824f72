/**
 * The one error vocabulary of greenlight.
 *
 * Each class carries a literal `name`: Lambda reports it as `errorType`, and the state machine's
 * `Retry`/`Catch` match it in `ErrorEquals`. The literal survives minification; class names do not.
 */

/** Base of every error the pipeline raises on purpose; `detail` is structured data for people and audit. */
export abstract class GreenlightError extends Error {
  abstract override readonly name: string;
  readonly detail: Record<string, unknown>;

  constructor(message: string, detail: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.detail = detail;
  }
}

/** The configuration file is missing, unreadable or does not match the schema. */
export class ConfigurationError extends GreenlightError {
  override readonly name = 'ConfigurationError' as const;
}

/** The pushed tag may not deploy anywhere (for example `latest`, or no stage's rules match). */
export class TagPolicyViolationError extends GreenlightError {
  override readonly name = 'TagPolicyViolationError' as const;
}

/** The pushed repository is not part of any configured application. */
export class UnknownRepositoryError extends GreenlightError {
  override readonly name = 'UnknownRepositoryError' as const;
}

/** The image (by digest) or its repository is not in ECR, e.g. deleted after the push. */
export class ImageNotFoundError extends GreenlightError {
  override readonly name = 'ImageNotFoundError' as const;
}

/** A bundle template cannot be rendered (missing file, unknown placeholder, bad Dockerrun). */
export class BundleRenderError extends GreenlightError {
  override readonly name = 'BundleRenderError' as const;
}

/** An application version with our label exists but points to a different bundle. */
export class VersionConflictError extends GreenlightError {
  override readonly name = 'VersionConflictError' as const;
}

/** Elastic Beanstalk could not process the application version (status Failed). */
export class VersionProcessingFailedError extends GreenlightError {
  override readonly name = 'VersionProcessingFailedError' as const;
}

/** A stored bundle's bytes no longer hash to its name (changed or deleted after rendering): never deployed. */
export class BundleIntegrityError extends GreenlightError {
  override readonly name = 'BundleIntegrityError' as const;
}

/** The environment is busy (not Ready); the state machine retries with backoff. */
export class EnvironmentNotReadyError extends GreenlightError {
  override readonly name = 'EnvironmentNotReadyError' as const;
}

/** The target environment does not exist (or is terminated). */
export class EnvironmentNotFoundError extends GreenlightError {
  override readonly name = 'EnvironmentNotFoundError' as const;
}

/** A newer push is already deployed or deploying to this environment: ours must not go backwards. */
export class SupersededError extends GreenlightError {
  override readonly name = 'SupersededError' as const;
}

/** The deployment failed (health, timeout or EB errors); the cause names the EB events. */
export class DeploymentFailedError extends GreenlightError {
  override readonly name = 'DeploymentFailedError' as const;
}

/** The rollback itself did not bring the environment back to health: a person must look now. */
export class RollbackFailedError extends GreenlightError {
  override readonly name = 'RollbackFailedError' as const;
}

/**
 * An update was made and its outcome could not be verified (health unreadable, rollback impossible):
 * the environment needs a person, and the alarm says so.
 */
export class DeploymentUnverifiedError extends GreenlightError {
  override readonly name = 'DeploymentUnverifiedError' as const;
}

/** An approver said no: the promotion ends with the approver's reason. */
export class ApprovalRejectedError extends GreenlightError {
  override readonly name = 'ApprovalRejectedError' as const;
}

/** Nobody decided within the stage's approval timeout: the target environment was not touched. */
export class ApprovalExpiredError extends GreenlightError {
  override readonly name = 'ApprovalExpiredError' as const;
}

/** No deployment waits for approval under this id (never did, or already decided). */
export class ApprovalNotFoundError extends GreenlightError {
  override readonly name = 'ApprovalNotFoundError' as const;
}

/** The approval was already decided (or expired) by the time this decision arrived. */
export class ApprovalAlreadyDecidedError extends GreenlightError {
  override readonly name = 'ApprovalAlreadyDecidedError' as const;
}

/** The caller is not on the stage's list of approvers. */
export class ApproverNotAllowedError extends GreenlightError {
  override readonly name = 'ApproverNotAllowedError' as const;
}

/** The caller pushed the image: separation of duties wants somebody else to approve it. */
export class SelfApprovalError extends GreenlightError {
  override readonly name = 'SelfApprovalError' as const;
}

/**
 * Nobody can say who pushed the image (the CloudTrail rule is off and CloudTrail's event history
 * has no answer, or could not be read): separation of duties cannot be checked, so nobody approves.
 */
export class PusherUnknownError extends GreenlightError {
  override readonly name = 'PusherUnknownError' as const;
}

/** A decision request is malformed (unknown decision, a rejection without a reason). */
export class InvalidDecisionError extends GreenlightError {
  override readonly name = 'InvalidDecisionError' as const;
}

/** A task got input that does not match its schema: the state machine and the code disagree (a bug). */
export class InvalidTaskInputError extends GreenlightError {
  override readonly name = 'InvalidTaskInputError' as const;
}

/** AWS throttled or briefly failed a call; safe to retry from the state machine. */
export class TransientAwsError extends GreenlightError {
  override readonly name = 'TransientAwsError' as const;
}

/** Every name the state machine may match, so the ASL and the code can be checked against each other. */
export const errorNames = [
  'ConfigurationError',
  'TagPolicyViolationError',
  'UnknownRepositoryError',
  'ImageNotFoundError',
  'BundleRenderError',
  'VersionConflictError',
  'VersionProcessingFailedError',
  'BundleIntegrityError',
  'EnvironmentNotReadyError',
  'EnvironmentNotFoundError',
  'SupersededError',
  'DeploymentFailedError',
  'RollbackFailedError',
  'DeploymentUnverifiedError',
  'TransientAwsError',
  'InvalidTaskInputError',
  'ApprovalRejectedError',
  'ApprovalExpiredError',
  'ApprovalNotFoundError',
  'ApprovalAlreadyDecidedError',
  'ApproverNotAllowedError',
  'SelfApprovalError',
  'PusherUnknownError',
  'InvalidDecisionError',
] as const;

export type ErrorName = (typeof errorNames)[number];

/** Error names of AWS SDK exceptions that mean "try again later". */
const transientAwsErrorNames = new Set([
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalServerError',
  'InternalError',
  'SlowDown',
]);

/** Whether an SDK error is one AWS asks us to retry (throttling, 5xx). */
export function isTransientAwsError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return transientAwsErrorNames.has(error.name) || (status !== undefined && status >= 500);
}

/** Turns a thrown value into the error the state machine should see: SDK throttling becomes TransientAwsError. */
export function toPipelineError(error: unknown): Error {
  if (error instanceof GreenlightError) return error;
  if (isTransientAwsError(error)) {
    const e = error as Error;
    return new TransientAwsError(`${e.name}: ${e.message}`, { awsError: e.name }, { cause: e });
  }
  return error instanceof Error ? error : new Error(String(error));
}

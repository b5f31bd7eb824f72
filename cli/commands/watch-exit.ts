// What `greenlight --help` and commander need of watch before the command runs, without watch's
// imports (the SDK clients): the CLI loads a command's module only when that command runs.

/**
 * The exit codes of `greenlight watch`, one per kind of answer, so CI can tell them apart. A superseded
 * push is not a failure of the pipeline (the newer push deploys), but the bytes CI built for this commit
 * do not run: it gets its own code, and CI that does not care accepts 3 as success.
 */
export const watchExitCodes = {
  deployed: 0,
  failed: 1,
  rejected: 2,
  superseded: 3,
  timedOut: 4,
  usage: 5,
} as const;

/** The `--help` text for the exit codes. */
export const watchExitHelp = `
Exit codes:
  0  deployed (or already deployed: another tag of the same bytes runs there)
  1  failed: health failed and the environment was rolled back, the rollback failed, the update could
     not be verified, or the execution was stopped
  2  rejected or expired: the tag policy refused the tag (latest, no matching stage), an approver
     rejected the promotion, or nobody decided before the approval timed out
  3  superseded: a newer push of the repository deploys instead; nothing went backwards. Not a
     failure of the pipeline, but this push does not run: accept it in CI with  || [ $? -eq 3 ]
  4  timed out waiting (--timeout): the execution did not appear or did not end in time; it goes on
  5  nothing watched: a usage or configuration error, or AWS could not be asked (credentials, region,
     permissions, endpoint)

With several executions (a digest pushed under several tags), the code is the most serious one, in the
order 1, 4, 2, 3, 0.

Needs ecr:DescribeImages (when IMAGE gives no digest), states:DescribeExecution and
states:GetExecutionHistory on the pipeline's executions, and elasticbeanstalk:DescribeEvents (for EB's
events; without it they are left out). AWS_REGION and AWS_ENDPOINT_URL decide where; the state machine
is --state-machine, else GREENLIGHT_STATE_MACHINE_ARN (the DeployPipelineArn output of the stack), else
the local one when AWS_ENDPOINT_URL is set.`;

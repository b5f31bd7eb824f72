import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type * as z from 'zod/mini';
import { InvalidTaskInputError, toPipelineError } from '../errors.ts';

/** One structured JSON logger for every function; the service name is the function's. */
export const logger = new Logger({ serviceName: 'greenlight' });

/**
 * Wraps a domain call as a Lambda handler: parse the input with its schema, run, and make sure what
 * is thrown carries a name the state machine knows (SDK throttling becomes TransientAwsError).
 */
export function taskHandler<S extends z.ZodMiniType, O>(schema: S, run: (input: z.output<S>, context: Context) => Promise<O>) {
  // No early timeout from middy: a task cut short must surface as the platform's Sandbox.Timedout,
  // which the state machine retries (every task is idempotent), not as a name it does not know.
  return middy({ timeoutEarlyInMillis: 0 }).handler(async (event: unknown, context: Context): Promise<O> => {
    // Every task gets `execution` ($$.Execution.Name) so all log lines of one deployment share a key.
    const execution = (event as { execution?: unknown } | null)?.execution;
    if (typeof execution === 'string') logger.appendKeys({ execution });
    const parsed = schema.safeParse(event);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`);
      throw new InvalidTaskInputError(`the task input does not match what ${context.functionName} expects: ${problems.join('; ')}`, { problems });
    }
    try {
      return await run(parsed.data, context);
    } catch (error) {
      const pipelineError = toPipelineError(error);
      logger.error('task failed', { error: pipelineError });
      throw pipelineError;
    }
  }).use(injectLambdaContext(logger, { resetKeys: true }));
}

import { DescribeExecutionCommand, GetExecutionHistoryCommand, type HistoryEvent, type SFNClient } from '@aws-sdk/client-sfn';
import { dim, green, red, seconds, yellow } from './output.ts';

export interface WatchedExecution {
  status: string;
  output?: Record<string, any>;
  error?: string;
  cause?: string;
  durationMs: number;
}

/** Formats what a finished state said, for the states where it matters to a person. */
function detailOf(name: string, output: unknown): string {
  const o = output as Record<string, any> | null;
  if (!o || typeof o !== 'object') return '';
  if (name === 'Resolve Plan') return `${o.plan?.application} → ${(o.plan?.stages ?? []).map((s: any) => s.environment).join(', ')}`;
  if (name === 'Prepare Release') return `${o.bundle?.versionLabel} s3://${o.bundle?.bucket}/${o.bundle?.key}${o.bundle?.written === false ? ' (already stored)' : ''}`;
  if (name === 'Create Version' || name === 'Check Version') return `${o.version?.versionLabel}: ${o.version?.status}`;
  if (name === 'Acquire Environment') return o.lease?.status === 'acquired' ? `${o.lease.environment}: ours until ${o.lease.expiresAt}` : `${o.lease?.environment}: ${o.lease?.holder} deploys there now, waiting`;
  if (name === 'Deploy') {
    const d = o.deployment;
    return d?.requestId === 'already-deployed' ? `${d.environment}: already runs these bytes (${d.versionLabel})` : `${d?.environment}: ${d?.previousVersionLabel ?? '(none)'} → ${d?.versionLabel}`;
  }
  if (name === 'Check Health' || name === 'Check Rollback Health') {
    const h = name === 'Check Health' ? o.health : o.rollbackHealth;
    const colour = h?.verdict === 'healthy' ? green : h?.verdict === 'inProgress' ? yellow : red;
    return `${h?.environment} ${h?.status}/${h?.health} ${colour(h?.verdict)}${h?.causes?.length ? dim(` — ${h.causes[0]}`) : ''}`;
  }
  if (name === 'Request Approval') return `${o.approval?.decision} by ${o.approval?.approver}${o.approval?.comment ? ` “${o.approval.comment}”` : ''}`;
  if (name === 'Roll Back') return `${o.rollback?.deployment?.environment}: back to ${o.rollback?.deployment?.versionLabel}`;
  return '';
}

/** An execution's whole history, every page of GetExecutionHistory. */
export async function readHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/**
 * Follows one execution through GetExecutionHistory (the public API, as any client would) and
 * prints each state as it starts and ends, with its duration, until the execution ends.
 */
export async function watchExecution(
  sfn: SFNClient,
  executionArn: string,
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  pollMs = 200,
): Promise<WatchedExecution> {
  const entered = new Map<string, number>();
  let seen = 0;
  const started = Date.now();
  for (;;) {
    const events = await readHistory(sfn, executionArn);
    for (const event of events.slice(seen)) {
      const at = event.timestamp?.getTime() ?? Date.now();
      if (event.stateEnteredEventDetails?.name) {
        const name = event.stateEnteredEventDetails.name;
        entered.set(name, at);
        if (event.type === 'WaitStateEntered') write(dim(`  … ${name}`));
        else if (event.type !== 'ChoiceStateEntered' && event.type !== 'PassStateEntered') write(`  ▶ ${name}`);
      } else if (event.stateExitedEventDetails?.name) {
        const name = event.stateExitedEventDetails.name;
        const took = at - (entered.get(name) ?? at);
        if (event.type === 'TaskStateExited' || event.type === 'MapStateExited') {
          const output = JSON.parse(event.stateExitedEventDetails.output ?? 'null');
          write(`  ${green('✔')} ${name} ${dim(seconds(took))} ${detailOf(name, output)}`);
        }
      } else if (event.type === 'LambdaFunctionFailed' || event.type === 'TaskFailed') {
        const details = event.lambdaFunctionFailedEventDetails ?? event.taskFailedEventDetails;
        write(`  ${red('✘')} ${details?.error}`);
      }
    }
    seen = events.length;
    const description = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (description.status !== 'RUNNING') {
      return {
        status: description.status ?? 'UNKNOWN',
        output: description.output ? JSON.parse(description.output) : undefined,
        error: description.error,
        cause: description.cause,
        durationMs: (description.stopDate?.getTime() ?? Date.now()) - (description.startDate?.getTime() ?? started),
      };
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { AwsServiceError } from '../../protocol/types.ts';

/** The decision a waiting task receives. */
export type TaskOutcome = { ok: true; output: unknown } | { ok: false; error: string; cause: string };

interface WaitingTask {
  readonly executionArn: string;
  readonly stateName: string;
  readonly settle: (outcome: TaskOutcome) => void;
  lastHeartbeat: number;
}

/**
 * Task tokens for `.waitForTaskToken`: opaque, signed (a forged token is `InvalidToken`), single use
 * (a token whose task has closed answers `TaskTimedOut`, as AWS does for replays and expiries).
 */
export class TaskTokens {
  private readonly secret = randomBytes(32);
  private readonly waiting = new Map<string, WaitingTask>();
  private readonly closed = new Set<string>();

  /** Issues a token for a task and the promise that settles when someone answers it. */
  issue(executionArn: string, stateName: string): { token: string; outcome: Promise<TaskOutcome> } {
    const id = randomUUID();
    const body = Buffer.from(JSON.stringify({ id, executionArn, stateName })).toString('base64url');
    const token = `${body}.${this.sign(body)}`;
    const outcome = new Promise<TaskOutcome>((settle) => {
      this.waiting.set(id, { executionArn, stateName, settle, lastHeartbeat: Date.now() });
    });
    return { token, outcome };
  }

  /** Ends a task's wait without an answer (timeout, abort): later answers get TaskTimedOut. */
  close(token: string): void {
    const id = this.idOf(token);
    this.waiting.delete(id);
    this.closed.add(id);
  }

  /** Closes every token of an execution (stopped, failed, timed out). */
  closeExecution(executionArn: string): void {
    for (const [id, task] of this.waiting) {
      if (task.executionArn === executionArn) {
        this.waiting.delete(id);
        this.closed.add(id);
      }
    }
  }

  answer(token: string, outcome: TaskOutcome): void {
    const id = this.idOf(token);
    const task = this.waiting.get(id);
    if (!task) this.refuseClosed(id);
    this.waiting.delete(id);
    this.closed.add(id);
    task!.settle(outcome);
  }

  heartbeat(token: string): void {
    const id = this.idOf(token);
    const task = this.waiting.get(id);
    if (!task) this.refuseClosed(id);
    task!.lastHeartbeat = Date.now();
  }

  private refuseClosed(id: string): never {
    if (this.closed.has(id)) throw new AwsServiceError('TaskTimedOut', 'Task Timed Out: the task for this token has already been closed or has expired');
    throw new AwsServiceError('TaskDoesNotExist', 'Task does not exist');
  }

  private idOf(token: unknown): string {
    if (typeof token !== 'string' || token.length === 0 || token.length > 2048) throw new AwsServiceError('InvalidToken', 'Invalid Token: the task token is missing or malformed');
    const [body = '', signature = ''] = token.split('.');
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new AwsServiceError('InvalidToken', 'Invalid Token: the task token was not issued by this service');
    }
    return (JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { id: string }).id;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}

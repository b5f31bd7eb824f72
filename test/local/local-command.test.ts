import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepExecutionsOption } from '../../cli/commands/local.ts';
import { spawnGreenlightLocal, until } from './greenlight-local-process.ts';

const bin = new URL('../../bin/greenlight.js', import.meta.url).pathname;
let occupied: Server;
let port: number;

beforeAll(async () => {
  occupied = createServer();
  await new Promise<void>((resolve) => occupied.listen(0, '127.0.0.1', resolve));
  port = (occupied.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => occupied.close(() => resolve())));

describe('greenlight local', () => {
  it('says the port is busy and how to choose another, without a stack trace', () => {
    const result = spawnSync(process.execPath, [bin, 'local', '--port', String(port)], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`error: port ${port} on 127.0.0.1 is already in use`);
    expect(result.stderr).toContain(`greenlight local --port ${port + 1}`);
    expect(result.stderr).not.toMatch(/EADDRINUSE|\n\s+at /);
  });

  it('reads --keep-executions as a whole number of at least 1', () => {
    expect(keepExecutionsOption(undefined)).toEqual({});
    expect(keepExecutionsOption('250')).toEqual({ keepExecutions: 250 });
    for (const wrong of ['0', '-3', '1.5', 'many', '']) {
      expect(keepExecutionsOption(wrong).error).toBe(`--keep-executions ${wrong}: not a whole number of at least 1`);
    }
  });

  it('refuses a wrong --keep-executions before starting anything (exit 2)', () => {
    const result = spawnSync(process.execPath, [bin, 'local', '--port', '0', '--keep-executions', '0'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('error: --keep-executions 0: not a whole number of at least 1');
  });

  it('keeps only the newest N finished executions with --keep-executions N', async () => {
    const local = await spawnGreenlightLocal(['--fast', '--keep-executions', '1']);
    try {
      expect(local.stdout()).toContain('the newest 1 finished ones are kept');
      const stateMachineArn = /state machine (arn:\S+)/.exec(local.stdout())![1]!;
      const sfn = new SFNClient({ endpoint: local.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
      const finished = async (name: string) => {
        const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: '{}' }));
        await until(`${name} to end`, async () => ((await sfn.send(new DescribeExecutionCommand({ executionArn }))).status === 'RUNNING' ? undefined : true));
        return executionArn!;
      };
      const first = await finished('first');
      await finished('second');
      await expect(sfn.send(new DescribeExecutionCommand({ executionArn: first }))).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    } finally {
      await local.stop();
    }
  });
});

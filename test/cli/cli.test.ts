import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runGreenlight, runGreenlightWith } from './in-process.ts';

const bin = new URL('../../bin/greenlight.js', import.meta.url).pathname;

/** Runs the CLI as a user would, in its own process, without a terminal: the demo sets the process's environment and working directory, as `npm start` does. */
function spawned(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 90_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('greenlight plan', () => {
  it('says which stages a tag reaches and which it does not, without deploying', async () => {
    const run = await runGreenlight('plan', 'hello-api:v0.9.0');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('✔ hello-api-dev');
    expect(run.stdout).toMatch(/✘ hello-api-prod: .*semver:>=1\.0\.0/);
  });

  it('answers JSON for scripts and exits non-zero for a tag that never deploys', async () => {
    const run = await runGreenlight('plan', 'hello-api:latest', '--json');
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ deploys: false, error: 'TagPolicyViolationError' });
  });

  it('names the problem in bad input', async () => {
    expect(await runGreenlight('plan', 'not an image')).toMatchObject({ code: 2, stderr: expect.stringContaining('REPOSITORY:TAG') });
    expect(await runGreenlight('plan', 'unknown-repo:v1')).toMatchObject({ code: 1, stderr: expect.stringContaining('not part of any application') });
    expect(await runGreenlight('plan', 'hello-api:v1', '--config', '/nope.yml')).toMatchObject({ code: 1, stderr: expect.stringContaining('cannot read the configuration file /nope.yml') });
  });
});

describe('greenlight demo', () => {
  it('runs dev → approval → prod without a terminal when told who approves', () => {
    const run = spawned('demo', '--promote', '--approve-as', 'alice', '--port', '0', '--fast');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('waits for approval to hello-api-prod');
    expect(run.stdout).toMatch(/Request Approval .*approve by arn:aws:sts::000000000000:assumed-role\/release-managers\/alice/);
    expect(run.stdout).toContain('hello-api-dev (Green), hello-api-prod (Green)');
  });

  it('shows the failure path: health Red, rollback, a clear cause and a non-zero exit', () => {
    const run = spawned('demo', '--broken', '--fast');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('Roll Back');
    expect(run.stdout).toContain('DeploymentFailedError');
    expect(run.stdout).toMatch(/hello-api-dev is back on v0\.1\.0-[0-9a-f]{12} \(Ready\/Green\)/);
  });
});

describe('greenlight approvals without a URL or a decision', () => {
  it('explains what is missing', async () => {
    const env = { GREENLIGHT_APPROVAL_URL: '' };
    const pending = await runGreenlightWith(env, 'pending');
    expect(pending.code).toBe(2);
    expect(pending.stderr).toContain('GREENLIGHT_APPROVAL_URL');
    const reject = await runGreenlightWith(env, 'reject', 'x', '--url', 'http://127.0.0.1:9');
    expect(reject.code).not.toBe(0);
    expect(reject.stderr).toContain('--reason');
  });
});

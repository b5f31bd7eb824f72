import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const bin = new URL('../../bin/greenlight.js', import.meta.url).pathname;

/** Runs the CLI in its own process, with no greenlight or endpoint settings from the caller's environment. */
function greenlight(...args: string[]) {
  const { GREENLIGHT_AUDIT_BUCKET: _b, GREENLIGHT_STATE_MACHINE_ARN: _s, AWS_ENDPOINT_URL: _e, ...env } = process.env;
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...env, NO_COLOR: '1', AWS_REGION: 'us-east-1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('greenlight history and show from the command line', () => {
  it('name what to set when they do not know where the records are', () => {
    const history = greenlight('history');
    expect(history.code).toBe(2);
    expect(history.stderr).toContain('no audit bucket: pass --bucket or set GREENLIGHT_AUDIT_BUCKET');
    const show = greenlight('show', 'hello-api-v1-0-0-0123456789abcdef');
    expect(show.code).toBe(1);
    expect(show.stderr).toContain('no audit bucket to look in (pass --bucket or set GREENLIGHT_AUDIT_BUCKET)');
    expect(show.stderr).toContain('pass --state-machine or set GREENLIGHT_STATE_MACHINE_ARN');
  });

  it('refuse --json with --csv, and a period they cannot read, before calling AWS', () => {
    expect(greenlight('history', '--json', '--csv', '--bucket', 'b')).toMatchObject({ code: 1, stderr: expect.stringContaining("option '--json' cannot be used with option '--csv'") });
    expect(greenlight('history', '--until', 'tomorrow', '--bucket', 'b')).toMatchObject({ code: 2, stderr: expect.stringContaining('--until "tomorrow" is neither a duration') });
  });
});

import { describe, expect, it } from 'vitest';
import { runGreenlightWith } from './in-process.ts';

/** The CLI with no greenlight or endpoint settings from the caller's environment. */
const greenlight = (...args: string[]) =>
  runGreenlightWith({ GREENLIGHT_AUDIT_BUCKET: undefined, GREENLIGHT_STATE_MACHINE_ARN: undefined, AWS_ENDPOINT_URL: undefined, AWS_REGION: 'us-east-1' }, ...args);

describe('greenlight history and show from the command line', () => {
  it('name what to set when they do not know where the records are', async () => {
    const history = await greenlight('history');
    expect(history.code).toBe(2);
    expect(history.stderr).toContain('no audit bucket: pass --bucket or set GREENLIGHT_AUDIT_BUCKET');
    const show = await greenlight('show', 'hello-api-v1-0-0-0123456789abcdef');
    expect(show.code).toBe(1);
    expect(show.stderr).toContain('no audit bucket to look in (pass --bucket or set GREENLIGHT_AUDIT_BUCKET)');
    expect(show.stderr).toContain('pass --state-machine or set GREENLIGHT_STATE_MACHINE_ARN');
  });

  it('refuse --json with --csv, and a period they cannot read, before calling AWS', async () => {
    expect(await greenlight('history', '--json', '--csv', '--bucket', 'b')).toMatchObject({ code: 1, stderr: expect.stringContaining("option '--json' cannot be used with option '--csv'") });
    expect(await greenlight('history', '--until', 'tomorrow', '--bucket', 'b')).toMatchObject({ code: 2, stderr: expect.stringContaining('--until "tomorrow" is neither a duration') });
  });
});

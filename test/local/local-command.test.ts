import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
});

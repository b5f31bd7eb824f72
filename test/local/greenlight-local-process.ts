import { type ChildProcess, spawn } from 'node:child_process';

const bin = new URL('../../bin/greenlight.js', import.meta.url).pathname;

/** A `greenlight local` started as users start it: its own process, its endpoint read from what it prints. */
export interface GreenlightLocalProcess {
  child: ChildProcess;
  endpoint: string;
  stdout: () => string;
  /** Ends it with SIGTERM (as Ctrl-C does) and waits for the exit. */
  stop: () => Promise<void>;
}

/** Runs `greenlight local --port 0 ARGS…` and resolves once it says the endpoint is up (rejects if it exits first). */
export async function spawnGreenlightLocal(args: string[]): Promise<GreenlightLocalProcess> {
  const child = spawn(process.execPath, [bin, 'local', '--port', '0', ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const found = /Ctrl-C stops/.test(stdout) && /endpoint on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
      if (found) {
        clearInterval(timer);
        resolve(found);
      }
    }, 50);
    child.on('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`greenlight local exited with ${code}: ${stderr}`));
    });
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.on('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return { child, endpoint, stdout: () => stdout, stop };
}

/** Polls `probe` until it answers something (every 50 ms), or fails naming what it waited for. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

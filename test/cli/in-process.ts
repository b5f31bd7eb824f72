import { vi } from 'vitest';
import { main } from '../../cli/main.ts';

export interface GreenlightRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `greenlight ARGS…` in this process (spawning the CLI is slow) and returns its exit code and what it printed. */
export function runGreenlight(...args: string[]): Promise<GreenlightRun> {
  return runGreenlightWith({}, ...args);
}

/**
 * runGreenlight with these environment variables for the run only (undefined: unset), as a user's shell
 * would give them; the process's own are back afterwards. One run at a time: stdout and stderr are
 * this process's.
 */
export async function runGreenlightWith(env: Record<string, string | undefined>, ...args: string[]): Promise<GreenlightRun> {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
  apply(env);
  try {
    const code = await main(['node', 'greenlight', ...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    apply(saved);
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

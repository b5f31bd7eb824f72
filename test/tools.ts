import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Whether a program is installed (an executable of that name on PATH): tests that drive a client
 * nobody here wrote (aws, skopeo) skip, and say so, without it. Looked up rather than run, since
 * `aws --version` alone is a Python start (~0.3 s of CPU) in every file that asks.
 */
export function installed(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((folder) => {
    try {
      accessSync(join(folder, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

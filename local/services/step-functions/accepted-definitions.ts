import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Definitions the ASL validator accepted, remembered on disk by their exact text and the validator's
 * version. asl-validator compiles its JSON schema anew on every call (0.4–1 s of CPU, most of an
 * endpoint's start), and every start of the endpoint validates the same serverless.yml machine.
 * Only acceptances are remembered: a definition with findings is validated, and refused, every time.
 */
export interface AcceptedDefinitions {
  /** Looks a definition up by its text as it is now (the validator may add to the object it checks). */
  lookUp(definition: unknown): { accepted: boolean; remember(): void };
}

/** The validator aws-local-stepfunctions runs (its own copy), found from the runner's package. */
function validatorPackage(): { version: string; folder: string } | undefined {
  try {
    const runner = createRequire(import.meta.url).resolve('aws-local-stepfunctions');
    // Up from its entry point to its package.json (the package's exports do not list package.json).
    for (let folder = dirname(createRequire(runner).resolve('asl-validator')); folder !== dirname(folder); folder = dirname(folder)) {
      const path = join(folder, 'package.json');
      if (!existsSync(path)) continue;
      const { name, version } = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version: string };
      if (name === 'asl-validator') return { version, folder: dirname(folder) };
    }
  } catch {
    // Not resolvable: validate every time.
  }
  return undefined;
}

export function acceptedDefinitions(): AcceptedDefinitions {
  const validator = validatorPackage();
  // Beside the installed validator (node_modules/.cache, as other tools keep theirs): a new install starts empty.
  const folder = validator && join(validator.folder, '.cache', 'greenlight-accepted-asl');
  const file = (definition: unknown) => folder && join(folder, createHash('sha256').update(`${validator.version}\n${JSON.stringify(definition)}`).digest('hex'));
  return {
    lookUp: (definition) => {
      const path = file(definition);
      return {
        accepted: path !== undefined && existsSync(path),
        remember: () => {
          if (!path || !folder) return;
          try {
            mkdirSync(folder, { recursive: true });
            writeFileSync(path, '');
          } catch {
            // A read-only install only loses the shortcut.
          }
        },
      };
    },
  };
}

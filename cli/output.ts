/** Terminal output helpers: colour only on a TTY (and never when NO_COLOR is set). */
const useColour = process.stdout.isTTY === true && !process.env.NO_COLOR;

const paint = (code: number) => (text: string) => (useColour ? `\u001b[${code}m${text}\u001b[0m` : text);
export const green = paint(32);
export const red = paint(31);
export const yellow = paint(33);
export const dim = paint(2);
export const bold = paint(1);

export function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A clear message for the user on stderr, and the exit code to return. */
export function fail(message: string, code = 1): number {
  process.stderr.write(`${red('error:')} ${message}\n`);
  return code;
}

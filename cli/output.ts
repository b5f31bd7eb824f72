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

/** A duration for a table: `850 ms`, `12.3 s`, `4 min 3 s`, `72 h 5 min`. */
export function duration(ms: number): string {
  if (ms < 60_000) return seconds(ms);
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** A principal as a person reads it in a table: `release-managers/alice` for an assumed role, the name for a user. */
export function principalName(arn: string): string {
  const match = /^arn:aws[a-z-]*:(?:sts|iam)::\d{12}:(assumed-role|user|role|root)(?:\/(.*))?$/.exec(arn);
  if (!match) return arn;
  if (match[1] === 'root') return 'root';
  if (match[1] === 'user') return match[2]?.split('/').pop() ?? arn;
  return match[2] ?? arn;
}

/** A cell of `table`: its text, and how to paint it once padded. */
export interface Cell {
  text: string;
  paint?: (text: string) => string;
}

/** Left-aligned columns two spaces apart, widths from the plain text (colour is added after padding). */
export function table(header: string[], rows: Cell[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.text.length ?? 0)));
  const line = (cells: Cell[]) =>
    cells
      .map((cell, i) => {
        const padded = i === cells.length - 1 ? cell.text : cell.text.padEnd(widths[i] ?? 0);
        return cell.paint ? cell.paint(padded) : padded;
      })
      .join('  ');
  return [line(header.map((text) => ({ text, paint: bold }))), ...rows.map(line)].join('\n');
}

/** RFC 4180 CSV: a header line, then one line per row; fields with a comma, quote or line break are quoted. */
export function csv(header: string[], rows: Array<Array<string | number | null>>): string {
  const field = (value: string | number | null) => {
    const text = value === null ? '' : String(value);
    return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [header, ...rows].map((row) => row.map(field).join(',')).join('\r\n');
}

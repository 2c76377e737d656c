/**
 * `--json` output: one JSON document on stdout, decimals as strings (never binary floats).
 */
export function printJson(value: unknown, out: NodeJS.WritableStream = process.stdout): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One JSON object per line, for streams of records (`events --follow --json`). */
export function printJsonLine(value: unknown, out: NodeJS.WritableStream = process.stdout): void {
  out.write(`${JSON.stringify(value)}\n`);
}

export function print(text: string, out: NodeJS.WritableStream = process.stdout): void {
  out.write(text.endsWith('\n') ? text : `${text}\n`);
}

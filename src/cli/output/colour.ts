/**
 * Colour for terminals only: no ANSI codes when stdout is not a TTY (pipes, files, CI)
 * or when NO_COLOR is set (https://no-color.org).
 */
export type Colour = 'green' | 'yellow' | 'red' | 'cyan' | 'dim' | 'bold';

const CODES: Record<Colour, [number, number]> = {
  green: [32, 39],
  yellow: [33, 39],
  red: [31, 39],
  cyan: [36, 39],
  dim: [2, 22],
  bold: [1, 22],
};

export interface Painter {
  readonly enabled: boolean;
  paint(text: string, colour: Colour): string;
}

export function painterFor(
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): Painter {
  const enabled = stream.isTTY === true && (env.NO_COLOR ?? '') === '';
  return {
    enabled,
    paint: (text, colour) => {
      if (!enabled) return text;
      const [open, close] = CODES[colour];
      return `\u001b[${open}m${text}\u001b[${close}m`;
    },
  };
}

// eslint-disable-next-line no-control-regex
const ANSI_RE = /\u001b\[[0-9;]*m/g;

/** Visible width of a string that may contain colour codes. */
export function visibleLength(text: string): number {
  return text.replace(ANSI_RE, '').length;
}

import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { confirmMutation, operatorName, requiredReason } from '../../src/cli/output/confirm.js';
import { PosguardError } from '../../src/errors.js';
import { painterFor, visibleLength } from '../../src/cli/output/colour.js';
import { renderTable } from '../../src/cli/output/table.js';

function tty(answer: string | null): {
  stdin: PassThrough & { isTTY?: boolean };
  stderr: PassThrough;
  prompt: () => string;
} {
  const stdin: PassThrough & { isTTY?: boolean } = new PassThrough();
  stdin.isTTY = true;
  const stderr = new PassThrough();
  let written = '';
  stderr.on('data', (c: Buffer) => (written += c.toString()));
  if (answer !== null) setTimeout(() => stdin.write(`${answer}\n`), 10);
  return { stdin, stderr, prompt: () => written };
}

describe('confirmMutation', () => {
  it('asks on a terminal: y/yes proceeds, anything else declines', async () => {
    for (const [answer, expected] of [
      ['y', true],
      ['YES', true],
      ['n', false],
      ['', false],
      ['yep', false],
    ] as const) {
      const io = tty(answer);
      expect(await confirmMutation('Set a hold on BTCUSDT.', undefined, io)).toBe(expected);
      expect(io.prompt()).toContain('Set a hold on BTCUSDT.');
      expect(io.prompt()).toContain('Proceed? [y/N]');
    }
  });

  it('without a terminal requires --yes (USAGE); --yes never prompts', async () => {
    const stdin: PassThrough & { isTTY?: boolean } = new PassThrough();
    const error = await confirmMutation('x', undefined, { stdin, stderr: new PassThrough() }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PosguardError);
    expect((error as PosguardError).code).toBe('USAGE');
    expect(await confirmMutation('x', true, tty(null))).toBe(true);
  });
});

describe('operator and reason', () => {
  it('operator: --operator wins over $USER; none or odd names are usage errors', () => {
    expect(operatorName('alice', { USER: 'bob' })).toBe('alice');
    expect(operatorName(undefined, { USER: 'bob' })).toBe('bob');
    expect(() => operatorName(undefined, {})).toThrow(PosguardError);
    expect(() => operatorName('a b', {})).toThrow(/invalid operator/);
  });

  it('reason: required and bounded', () => {
    expect(requiredReason('  manual trade ')).toBe('manual trade');
    expect(() => requiredReason('   ')).toThrow(/--reason is required/);
    expect(() => requiredReason('x'.repeat(501))).toThrow(PosguardError);
  });
});

describe('output helpers', () => {
  it('colours only on a TTY without NO_COLOR', () => {
    expect(painterFor({ isTTY: false }, {}).paint('OK', 'green')).toBe('OK');
    expect(painterFor({ isTTY: true }, { NO_COLOR: '1' }).paint('OK', 'green')).toBe('OK');
    const painted = painterFor({ isTTY: true }, {}).paint('OK', 'green');
    expect(painted).not.toBe('OK');
    expect(visibleLength(painted)).toBe(2);
  });

  it('aligns coloured cells by their visible width', () => {
    const painter = painterFor({ isTTY: true }, {});
    const out = renderTable(
      [{ header: 'A' }, { header: 'B', align: 'right' }],
      [
        [painter.paint('OK', 'green'), '1'],
        ['MANUAL_REQUIRED', '22'],
      ],
    );
    const lines = out
      .trimEnd()
      .split('\n')
      .map((l) => l.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), ''));
    expect(lines).toEqual(['A                 B', 'OK                1', 'MANUAL_REQUIRED  22']);
  });
});

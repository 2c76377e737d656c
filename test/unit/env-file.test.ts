/**
 * Env files read as systemd's EnvironmentFile= reads them, and the inline-comment rule
 * applied alike to a value from `--env-file` and from the process environment (SPEC §8).
 * The expected values are what systemd's parser (src/basic/env-file.c) produces.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import {
  mergeEnv,
  parseEnvFileText,
  readEnvFile,
  withoutInlineComment,
} from '../../src/config/env-file.js';
import { ConfigError } from '../../src/errors.js';

function problems(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

function envFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'pg-envfile-')), 'x.env');
  writeFileSync(file, text);
  return file;
}

describe('parseEnvFileText: what systemd puts in the environment', () => {
  it('keeps an inline comment in the value, as systemd does', () => {
    expect(
      parseEnvFileText(
        '# Polling\nP33_POLL_SEC=5                    # How often to update snapshots\n',
        'f',
      ),
    ).toEqual({ P33_POLL_SEC: '5                    # How often to update snapshots' });
  });

  it('trims around the name and the value; skips blank, # and ; lines; CRLF ends lines', () => {
    expect(parseEnvFileText('  A =  1  \r\n\n; note\n   # note\nB=two words\t\nC=\n', 'f')).toEqual(
      { A: '1', B: 'two words', C: '' },
    );
  });

  it('a # inside a value stays (no whitespace before it)', () => {
    expect(parseEnvFileText('BINANCE_API_SECRET=ab#cd\n', 'f')).toEqual({
      BINANCE_API_SECRET: 'ab#cd',
    });
  });

  it('quotes: single literal, double with \\ escapes, removed from the value', () => {
    const env = parseEnvFileText(
      [`A='x # y \\n'`, `B="say \\"hi\\" \\$HOME \\q"`, `C="two`, `lines"`, `D=  "padded "  `].join(
        '\n',
      ),
      'f',
    );
    expect(env).toEqual({
      A: 'x # y \\n',
      B: 'say "hi" $HOME \\q',
      C: 'two\nlines',
      D: 'padded ',
    });
  });

  it('outside quotes a backslash escapes the next character and joins lines', () => {
    expect(parseEnvFileText('A=a\\ \\#b\\\nc\nB=x\\  \n', 'f')).toEqual({
      A: 'a #bc',
      B: 'x ',
    });
  });

  it('the last assignment of a name wins', () => {
    expect(parseEnvFileText('A=1\nA=2\n', 'f')).toEqual({ A: '2' });
  });

  it('refuses, by line number, what systemd would skip or mangle without a word', () => {
    const found = problems(() =>
      parseEnvFileText(
        [
          'export P33_POLL_SEC=5', // 1: not a variable name
          'P33_ALLOWLIST BTCUSDT', // 2: no =
          'P33_COOLDOWN_SEC="15"   # seconds', // 3: text after the closing quote
          '# a comment \\', // 4: backslash at the end of a comment
          'P33_PERMIT_TTL=60',
          'B="a"\'b\'', // 6: two quoted parts
          'C="never closed', // 7
        ].join('\n'),
        'position-state-brain.env',
      ),
    );
    expect(found).toEqual([
      expect.stringMatching(
        /^position-state-brain\.env line 1: "export P33_POLL_SEC" is not a variable name/,
      ),
      expect.stringMatching(/^position-state-brain\.env line 2: no "="/),
      expect.stringMatching(/^position-state-brain\.env line 3: text after the closing quote/),
      expect.stringMatching(/^position-state-brain\.env line 4: a comment ending in "\\"/),
      expect.stringMatching(/^position-state-brain\.env line 6: more than one quoted part/),
      expect.stringMatching(/^position-state-brain\.env line 7: unterminated quote/),
    ]);
  });
});

describe('withoutInlineComment', () => {
  it.each([
    ['5   # How often to update snapshots', '5'],
    ['5\t# tab', '5'],
    ['1.0 #', '1.0'],
    ['# only a comment', ''],
    ['   # only a comment', ''],
    ['pa#ss', 'pa#ss'],
    ['pa#ss # why', 'pa#ss'],
    ['a # b # c', 'a'],
    ['multi\n# line', 'multi'],
    ['  BTCUSDT  ', 'BTCUSDT'],
  ])('%j → %j', (raw, expected) => {
    expect(withoutInlineComment(raw)).toBe(expected);
  });
});

describe('the configuration reads a value the same from --env-file and from the environment', () => {
  const lines = [
    'P33_POLL_SEC=5                    # How often to update snapshots',
    'P33_ALLOWLIST=BTCUSDT,ETHUSDT     # Symbols to track',
    'P34_QTY_DRIFT_TOLERANCE_PCT=0.5  # 0.5% instead of 1%',
    'BINANCE_API_SECRET=ab#cd',
    'BINANCE_API_KEY=   # set me',
    'P33_LOG_LEVEL=INFO',
  ];

  /** What systemd's EnvironmentFile= puts in the process environment for those lines. */
  const systemdPasses = {
    P33_POLL_SEC: '5                    # How often to update snapshots',
    P33_ALLOWLIST: 'BTCUSDT,ETHUSDT     # Symbols to track',
    P34_QTY_DRIFT_TOLERANCE_PCT: '0.5  # 0.5% instead of 1%',
    BINANCE_API_SECRET: 'ab#cd',
    BINANCE_API_KEY: '# set me',
    P33_LOG_LEVEL: 'INFO',
  };

  it('file and process environment (as systemd passes it) give one configuration', () => {
    const file = envFile(lines.join('\n') + '\n');
    expect(readEnvFile(file)).toEqual(systemdPasses);
    const fromFile = loadConfig(mergeEnv({}, file));
    const fromEnvironment = loadConfig(mergeEnv(systemdPasses, undefined));
    expect(fromEnvironment).toEqual(fromFile);
    expect(fromFile.brain.pollSec).toBe(5);
    expect(fromFile.brain.allowlist).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(fromFile.reconcile.qtyDriftTolerancePct).toBe(0.5);
    expect(fromFile.binance.apiSecret).toBe('ab#cd');
    expect(fromFile.binance.apiKey).toBeUndefined();
  });

  it('a value systemd passed with its comment loads as the bare value', () => {
    const c = loadConfig({
      P33_POLL_SEC: '5                    # How often to update snapshots',
      P33_STALE_THRESHOLD_SEC: '10        # Max snapshot age',
      P34_HOLD_TTL_SEC: '   # unset: the default',
    });
    expect(c.brain.pollSec).toBe(5);
    expect(c.brain.staleThresholdSec).toBe(10);
    expect(c.reconcile.holdTtlSec).toBe(300);
  });

  it('a bad value is still reported, without its comment', () => {
    expect(problems(() => loadConfig({ P33_POLL_SEC: 'five   # How often' }))).toEqual([
      expect.stringMatching(/^P33_POLL_SEC="five": expected a number of seconds/),
    ]);
  });

  it('a # in a URL must be written %23 (a fragment is never taken as part of it)', () => {
    expect(problems(() => loadConfig({ REDIS_URL: 'redis://:pa#ss@localhost:6379' }))).toEqual([
      expect.stringMatching(/^REDIS_URL: .*%23/),
    ]);
    expect(loadConfig({ REDIS_URL: 'redis://:pa%23ss@localhost:6379' }).redis.url).toBe(
      'redis://:pa%23ss@localhost:6379',
    );
  });

  it('a refused line in the file is a configuration error naming the file and the line', () => {
    const file = envFile('P33_POLL_SEC=5\nexport P33_ALLOWLIST=BTCUSDT\n');
    expect(problems(() => mergeEnv({}, file))).toEqual([
      expect.stringContaining(`--env-file ${file} line 2:`),
    ]);
  });
});

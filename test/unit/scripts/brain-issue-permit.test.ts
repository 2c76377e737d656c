/** brain_issue_permit: encode and decode, no Redis (node-redis' pure half of a command spec). */
import { describe, expect, it } from 'vitest';
import { buildKeys } from '../../../src/redis/keys.js';
import { brainIssuePermit } from '../../../src/redis/scripts/brain-issue-permit.js';
import { commandArgs, decodeReply } from '../../../src/redis/scripts/script.js';

const keys = buildKeys('q');
const ARGS = {
  keys,
  planId: 'p1',
  entryId: '1-0',
  permitJson: '{"allow":true}',
  outcome: 'allow',
  group: 'g',
  permitTtlMs: 1500.4,
  planSeenTtlMs: 3_600_000,
};

describe('brain_issue_permit encode', () => {
  it('passes every key in KEYS and one JSON object as ARGV, TTLs as integer ms', () => {
    const call = brainIssuePermit.encode(ARGS);
    expect(call.keys).toEqual([
      'q:posguard:plan:seen:p1',
      'q:permit:p33:p1',
      'q:stream:apply.plan',
    ]);
    expect(call.argv).toEqual({
      group: 'g',
      entry_id: '1-0',
      permit: '{"allow":true}',
      permit_ttl_ms: 1500,
      seen_ttl_ms: 3_600_000,
      outcome: 'allow 1-0',
    });
    expect(commandArgs(brainIssuePermit, call)).toEqual([...call.keys, JSON.stringify(call.argv)]);
  });
  it('passes ack:false only when the caller acks after WAIT (the default ARGV is unchanged)', () => {
    expect(brainIssuePermit.encode({ ...ARGS, ack: false }).argv).toMatchObject({ ack: false });
    expect(brainIssuePermit.encode({ ...ARGS, ack: true }).argv).not.toHaveProperty('ack');
  });
  it('never passes a TTL below 1 ms (SET PX 0 is an error)', () => {
    expect(brainIssuePermit.encode({ ...ARGS, permitTtlMs: 0.2 }).argv.permit_ttl_ms).toBe(1);
  });
  it('refuses to build an invalid plan id into a key', () => {
    expect(() => brainIssuePermit.encode({ ...ARGS, planId: 'p 1*' })).toThrow(/invalid plan id/);
  });
});

describe('brain_issue_permit decode', () => {
  it('maps every status to its typed result', () => {
    expect(decodeReply(brainIssuePermit, '{"status":"issued"}')).toEqual({ status: 'issued' });
    expect(decodeReply(brainIssuePermit, '{"status":"duplicate"}')).toEqual({
      status: 'duplicate',
    });
    expect(
      decodeReply(brainIssuePermit, '{"status":"wrong_type","key":"k","found":"list"}'),
    ).toEqual({ status: 'wrong_type', key: 'k', found: 'list' });
  });
  it('an unknown status, a bare string or a malformed refusal is SCRIPT_REPLY_INVALID', () => {
    for (const reply of ['{"status":"OK"}', 'issued', '[]', '{"status":"wrong_type"}', 1, null]) {
      expect(() => decodeReply(brainIssuePermit, reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    }
  });
});

/**
 * `gate_consume.lua`: the Apply Layer's permit gate (SPEC §6) — consumes the Governor and
 * P3.3 permits of one plan, both or neither. Apply Layers in other languages run the same
 * file (docs/apply-layer-integration.md); what a consumed permit means is decided by the
 * gate (`src/gate/consume-permits.ts`), which reads it with the brain's permit codec.
 */
import type { Keys } from '../keys.js';
import { type ScriptReply, type ScriptSpec, unknownStatus } from './script.js';

export interface GateConsumeArgs {
  keys: Keys;
  planId: string;
}

/** The seed's refusal codes (SPEC §6). */
export type GateRefusalCode =
  'missing_permit_or_redis' | 'governor_denied' | 'missing_or_denied_p33_permit';

export type GateReply =
  /** Both permits deleted; the P3.3 permit JSON exactly as it was stored. */
  | { status: 'consumed'; permitJson: string }
  /** No governor permit; nothing deleted. */
  | { status: 'missing_permit_or_redis' }
  /** reason: not_granted | wrong_type | invalid; nothing deleted. */
  | { status: 'governor_denied'; reason: string }
  /** reason: missing | wrong_type | invalid | the permit's deny reason | denied; nothing deleted. */
  | { status: 'missing_or_denied_p33_permit'; reason: string };

export const gateConsume: ScriptSpec<GateConsumeArgs, GateReply> = {
  name: 'gate_consume',
  version: 2,
  keyCount: 2,
  encode: (a) => ({
    keys: [a.keys.permitGovernor(a.planId), a.keys.permitP33(a.planId)],
    argv: {},
  }),
  decode: (reply: ScriptReply) => {
    const { status } = reply;
    if (status === 'consumed' && typeof reply.permit === 'string')
      return { status, permitJson: reply.permit };
    if (status === 'missing_permit_or_redis') return { status };
    if (
      (status === 'governor_denied' || status === 'missing_or_denied_p33_permit') &&
      typeof reply.reason === 'string'
    )
      return { status, reason: reply.reason };
    return unknownStatus(gateConsume, reply);
  },
};

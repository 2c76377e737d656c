/**
 * The HTTP control API (`/_control/...`), JSON in and out, mapped onto VenueControl.
 * Unauthenticated: the venue is a local simulator and binds 127.0.0.1 by default.
 */
import { PosguardError, errorMessage } from '../../errors.js';
import type { VenueControl } from './control.js';
import type { FaultSpec } from './faults.js';
import { type Reply, ok } from './http-io.js';
import type { VenueSymbolSpec } from './symbols.js';

type Body = Record<string, unknown>;
type ControlHandler = (control: VenueControl, body: Body, url: URL) => unknown;

const str = (body: Body, name: string): string => {
  const value = body[name];
  if (typeof value !== 'string' || value === '')
    throw new PosguardError('USAGE', `${name} is required (string)`);
  return value;
};
const dec = (body: Body, name: string): string | number => {
  const value = body[name];
  if (typeof value !== 'string' && typeof value !== 'number')
    throw new PosguardError('USAGE', `${name} is required (decimal string)`);
  return value;
};
const optDec = (body: Body, name: string): string | number | undefined =>
  body[name] === undefined ? undefined : dec(body, name);

const ROUTES: Record<string, ControlHandler> = {
  'GET /_control/positions': (c, _b, url) =>
    c.positions({ all: url.searchParams.get('all') === 'true' }),
  'POST /_control/position': (c, b) =>
    c.setPosition(str(b, 'symbol'), dec(b, 'amount'), optDec(b, 'entryPrice')),
  'POST /_control/mark': (c, b) => c.setMarkPrice(str(b, 'symbol'), dec(b, 'price')),
  'POST /_control/trade': (c, b) =>
    c.externalTrade(str(b, 'symbol'), dec(b, 'quantity'), optDec(b, 'price')),
  'GET /_control/orders': (c, _b, url) => c.orders(Number(url.searchParams.get('since') ?? 0) || 0),
  'POST /_control/symbols': (c, b) => {
    c.upsertSymbol(b as unknown as VenueSymbolSpec);
    return { ok: true };
  },
  'GET /_control/requests': (c) => ({ counts: c.requestCounts(), usedWeight1m: c.usedWeight1m() }),
  'GET /_control/requests/log': (c) => c.requestLog(),
  'POST /_control/requests/reset': (c) => {
    c.resetRequestCounts();
    return { ok: true };
  },
  'GET /_control/faults': (c) => c.faults(),
  'POST /_control/faults': (c, b) => c.addFault(b as unknown as FaultSpec),
  'DELETE /_control/faults': (c) => {
    c.clearFaults();
    return { ok: true };
  },
  'POST /_control/clock': (c, b) => {
    c.setClockSkew(Number(b.skewMs));
    return { skewMs: c.clockSkewMs() };
  },
  'POST /_control/ws/drop': (c) => ({ dropped: c.dropWebSockets() }),
  'POST /_control/ws/mute': (c, b) => {
    if (typeof b.muted !== 'boolean')
      throw new PosguardError('USAGE', 'muted is required (boolean)');
    c.muteUserStream(b.muted);
    return { muted: b.muted };
  },
  'POST /_control/listen-key/expire': (c) => {
    c.expireListenKey();
    return { ok: true };
  },
  'GET /_control/ws': (c) => ({ connections: c.wsConnections() }),
};

export function handleControl(
  control: VenueControl,
  method: string,
  url: URL,
  rawBody: string,
): Reply {
  const handler = ROUTES[`${method} ${url.pathname}`];
  if (!handler)
    return {
      status: 404,
      body: {
        error: `no control endpoint ${method} ${url.pathname}`,
        endpoints: Object.keys(ROUTES),
      },
    };
  let body: Body = {};
  if (rawBody.trim() !== '') {
    try {
      const parsed = JSON.parse(rawBody) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      body = parsed as Body;
    } catch {
      return { status: 400, body: { error: 'body must be a JSON object' } };
    }
  }
  try {
    return ok(handler(control, body, url));
  } catch (error) {
    const status = error instanceof PosguardError && error.code === 'NOT_FOUND' ? 404 : 400;
    return { status, body: { error: errorMessage(error) } };
  }
}

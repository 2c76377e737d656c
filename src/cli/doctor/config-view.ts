/**
 * The configuration as the service will read it, for `posguard doctor --json`: the same
 * `configFrom` the services call (inline comments dropped, the environment over the file),
 * with every secret replaced — credentials as `set`/`missing`, the Redis URL redacted.
 */
import type { Config, RedisSentinelConfig } from '../../config/config.js';
import { redactUrl } from '../../observability/logger.js';

export type ConfigView = Omit<Config, 'redis' | 'binance'> & {
  redis: Omit<Config['redis'], 'url' | 'sentinel'> & {
    url: string;
    sentinel:
      | (Omit<RedisSentinelConfig, 'username' | 'password' | 'sentinelPassword'> & {
          username: 'set' | 'missing';
          password: 'set' | 'missing';
          sentinelPassword: 'set' | 'missing';
        })
      | null;
  };
  binance: Omit<Config['binance'], 'apiKey' | 'apiSecret'> & {
    apiKey: 'set' | 'missing';
    apiSecret: 'set' | 'missing';
  };
};

const presence = (value: string | undefined): 'set' | 'missing' =>
  value === undefined || value === '' ? 'missing' : 'set';

export function configView(config: Readonly<Config>): ConfigView {
  return {
    ...config,
    redis: {
      ...config.redis,
      url: redactUrl(config.redis.url),
      sentinel: sentinelView(config.redis.sentinel ?? null),
    },
    binance: {
      ...config.binance,
      apiKey: presence(config.binance.apiKey),
      apiSecret: presence(config.binance.apiSecret),
    },
  };
}

function sentinelView(sentinel: RedisSentinelConfig | null): ConfigView['redis']['sentinel'] {
  if (sentinel === null) return null;
  return {
    ...sentinel,
    username: presence(sentinel.username),
    password: presence(sentinel.password),
    sentinelPassword: presence(sentinel.sentinelPassword),
  };
}

/**
 * Request weight per minute, as Binance counts it (fixed one-minute windows) and
 * reports it in `X-MBX-USED-WEIGHT-1M`.
 */
const WEIGHTS: Record<string, number> = {
  '/fapi/v1/time': 1,
  '/fapi/v1/exchangeInfo': 1,
  // 5 with or without `symbol=` (Binance USD-M "Position Information V2/V3": weight 5,
  // symbol optional) — a one-symbol answer is smaller, not cheaper in weight.
  '/fapi/v2/positionRisk': 5,
  '/fapi/v3/positionRisk': 5,
  /** New orders count against the order-rate limit, not the IP weight. */
  '/fapi/v1/order': 0,
  '/fapi/v1/listenKey': 1,
};

export function weightOf(path: string): number {
  return WEIGHTS[path] ?? 1;
}

export class WeightMeter {
  #minute = -1;
  #used = 0;

  add(nowMs: number, weight: number): number {
    this.#roll(nowMs);
    this.#used += weight;
    return this.#used;
  }

  used(nowMs: number): number {
    this.#roll(nowMs);
    return this.#used;
  }

  /** Seconds until the current window ends (for Retry-After). */
  secondsToNextWindow(nowMs: number): number {
    return Math.max(1, Math.ceil((60_000 - (nowMs % 60_000)) / 1000));
  }

  #roll(nowMs: number): void {
    const minute = Math.floor(nowMs / 60_000);
    if (minute !== this.#minute) {
      this.#minute = minute;
      this.#used = 0;
    }
  }
}

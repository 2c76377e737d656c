/**
 * One async mutex per symbol. The Apply Layer stub holds a symbol's lock while it sends
 * an order; a scenario step holds it while it injects a fault, so an injected external
 * trade never lands between a permit's check and the order it sizes.
 */
export class SymbolLocks {
  readonly #tails = new Map<string, Promise<void>>();

  async with<T>(symbol: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(symbol) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#tails.set(symbol, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.#tails.get(symbol) === tail) this.#tails.delete(symbol);
    }
  }
}

/** A promise settled once, from outside: the first resolve or reject wins, later ones are ignored. */
export class Latch {
  readonly promise: Promise<void>;
  #settled = false;
  #resolve: () => void = () => undefined;
  #reject: (error: unknown) => void = () => undefined;

  constructor() {
    this.promise = new Promise<void>((resolvePromise, reject) => {
      this.#resolve = resolvePromise;
      this.#reject = reject;
    });
    // A caller that never awaits this promise must not see an unhandled rejection.
    this.promise.catch(() => undefined);
  }

  get settled(): boolean {
    return this.#settled;
  }

  resolve(): void {
    if (!this.#settled) this.#resolve();
    this.#settled = true;
  }

  reject(error: unknown): void {
    if (!this.#settled) this.#reject(error);
    this.#settled = true;
  }
}

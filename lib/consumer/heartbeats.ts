/**
 * Heartbeats while a handler runs. kafkajs sends a heartbeat only when asked (between batches), so a handler
 * slower than the session timeout would lose its partitions: this asks through a payload of a batch in hand,
 * twice per interval (kafkajs skips one asked for sooner than heartbeatInterval after the last). An error (a
 * rebalance, an expired session) is kept until the member hands it to kafkajs, which then rejoins.
 */
import type { EachBatchPayload } from 'kafkajs';

export class Heartbeats {
  readonly #inHand = new Set<EachBatchPayload>();
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | undefined;
  #error: unknown;

  constructor(heartbeatIntervalMs: number) {
    this.#everyMs = Math.max(50, Math.floor(heartbeatIntervalMs / 2));
  }

  start(): void {
    this.#timer ??= setInterval(() => this.#beat(), this.#everyMs);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** A batch is being handled: heartbeats go through its payload. */
  hold(payload: EachBatchPayload): void {
    this.#inHand.add(payload);
  }

  release(payload: EachBatchPayload): void {
    this.#inHand.delete(payload);
  }

  /** The first heartbeat error since the last take (undefined when none). */
  get failed(): boolean {
    return this.#error !== undefined;
  }

  take(): unknown {
    const error = this.#error;
    this.#error = undefined;
    return error;
  }

  #beat(): void {
    const [payload] = this.#inHand;
    if (payload === undefined) return;
    payload.heartbeat().catch((error: unknown) => {
      this.#error ??= error;
    });
  }
}

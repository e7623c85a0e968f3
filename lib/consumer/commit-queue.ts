/**
 * Offsets to commit for one group member: committed in order, one request in flight, a later offset of a
 * partition superseding an earlier one while it waits. Offsets are committed only for records whose
 * delivery is finished, so a crash re-delivers, never loses. A commit the broker refuses (typically during
 * a rebalance) is kept as `refused` so the member hands it to kafkajs, which rejoins; nothing more is
 * committed until `reset()` after the join.
 */
import type { EachBatchPayload } from 'kafkajs';

export type RefusedCommit = (offsets: { topic: string; partitions: { partition: number; offset: string }[] }[], error: unknown) => void;

export class CommitQueue {
  /** topic → partition → next offset to read, for records finished and not committed yet. */
  readonly #pending = new Map<string, Map<number, string>>();
  #payload: EachBatchPayload | undefined;
  #committing: Promise<void> | undefined;
  #refused: unknown;
  readonly #onRefused: RefusedCommit;

  constructor(onRefused: RefusedCommit) {
    this.#onRefused = onRefused;
  }

  /** The error of a commit the broker refused since the last reset, if any. */
  get refused(): unknown {
    return this.#refused;
  }

  /** After a join: whatever was pending belongs to the previous generation. */
  reset(): void {
    this.#refused = undefined;
    this.#pending.clear();
  }

  /** Records of the partition before `nextOffset` are finished; committed without holding up the caller. */
  add(topic: string, partition: number, nextOffset: string, payload: EachBatchPayload): void {
    if (this.#refused !== undefined) return;
    const offsets = this.#pending.get(topic) ?? new Map<number, string>();
    const previous = offsets.get(partition);
    if (previous === undefined || BigInt(nextOffset) > BigInt(previous)) offsets.set(partition, nextOffset);
    this.#pending.set(topic, offsets);
    this.#payload = payload;
    this.#start();
  }

  /** Resolves once every added offset has been answered (or one was refused). */
  async settled(): Promise<void> {
    for (;;) {
      if (this.#committing !== undefined) {
        await this.#committing;
      } else if (this.#pending.size > 0 && this.#refused === undefined) {
        this.#start();
      } else {
        return;
      }
    }
  }

  #start(): void {
    if (this.#committing !== undefined) return;
    this.#committing = this.#commitPending().finally(() => {
      this.#committing = undefined;
    });
  }

  async #commitPending(): Promise<void> {
    while (this.#pending.size > 0 && this.#refused === undefined && this.#payload !== undefined) {
      const topics = [...this.#pending].map(([topic, offsets]) => ({
        topic,
        partitions: [...offsets].map(([partition, offset]) => ({ partition, offset })),
      }));
      this.#pending.clear();
      try {
        await this.#payload.commitOffsetsIfNecessary({ topics });
      } catch (error) {
        // Processed but not committed: whoever owns these partitions next gets the records again (at least once).
        this.#refused = error;
        this.#pending.clear();
        this.#onRefused(topics, error);
      }
    }
  }
}

/**
 * Gathers what kafkajs hands the member per partition (it runs one eachBatch per partition of a fetch at
 * the same time) into Lambda-sized batches: records of several partitions in one invocation when one fetch
 * brought them, at most `batchSize`. Batches start one at a time, in order; `deliver` resolves once the
 * batch's invocation was answered, with one outcome per contribution that may settle later (a partition
 * being retried), so a partition that keeps failing holds up only its own eachBatch.
 */
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';

export interface Contribution {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
  payload: EachBatchPayload;
}

export type ContributionOutcome =
  | { ok: true }
  /** Not finished (stopping, or the destination failed): its records stay uncommitted. */
  | { ok: false; rethrow: false }
  /** A Kafka error the runner must see: thrown out of eachBatch. */
  | { ok: false; rethrow: true; error: unknown };

/** Starts a batch; resolves when its first invocation was answered, with each contribution's (later) outcome. */
export type DeliverBatch = (contributions: Contribution[]) => Promise<Promise<ContributionOutcome>[]>;

export class BatchCollector {
  readonly #batchSize: number;
  readonly #deliver: DeliverBatch;
  #pending: Contribution[] = [];
  #pendingCount = 0;
  #waiting: ((outcome: Promise<ContributionOutcome>) => void)[] = [];
  #flushScheduled = false;
  #deliveries: Promise<void> = Promise.resolve();

  constructor(batchSize: number, deliver: DeliverBatch) {
    this.#batchSize = batchSize;
    this.#deliver = deliver;
  }

  /** Records gathered for the next batch and not handed over yet. */
  get pendingCount(): number {
    return this.#pendingCount;
  }

  contribute(contribution: Contribution): Promise<ContributionOutcome> {
    const outcome = new Promise<Promise<ContributionOutcome>>((resolvePromise) => {
      this.#waiting.push(resolvePromise);
    });
    this.#pending.push(contribution);
    this.#pendingCount += contribution.messages.length;
    if (this.#pendingCount >= this.#batchSize) {
      this.#flush();
    } else if (!this.#flushScheduled) {
      // The other partitions of the same fetch reach eachBatch in this same turn: gather them first.
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
    return outcome.then((settled) => settled);
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0) return;
    const taken = this.#pending;
    const waiting = this.#waiting;
    this.#pending = [];
    this.#pendingCount = 0;
    this.#waiting = [];
    this.#deliveries = this.#deliveries.then(async () => {
      try {
        const outcomes = await this.#deliver(taken);
        waiting.forEach((resolvePromise, index) => {
          resolvePromise(outcomes[index] ?? Promise.resolve({ ok: false, rethrow: false }));
        });
      } catch (error) {
        for (const resolvePromise of waiting) resolvePromise(Promise.resolve({ ok: false, rethrow: true, error }));
      }
    });
  }
}

/**
 * A Kafka client connected once on first use and reused (warm Lambda instances, serverless offline workers,
 * the inspect commands): the connect is memoised, and a failed connect is forgotten so that the next call
 * tries again, instead of failing forever or paying a connect on every request.
 */

export interface Connectable {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
}

export interface Connection<T> {
  /** The connected client (connecting it on first use, or after discard). */
  get(): Promise<T>;
  /** Drops the client after a failure; the next get() connects a new one. */
  discard(): void;
  close(): Promise<void>;
}

export interface ConnectionEvents {
  connected?: () => void;
  discarded?: () => void;
}

/** Memoises a connected client; a failed connect is forgotten, so the next call tries again. */
export function lazyConnection<T extends Connectable>(create: () => T, events: ConnectionEvents = {}): Connection<T> {
  let current: { client: T; ready: Promise<T> } | undefined;
  const drop = (entry: { client: T }) => {
    if (current === entry) current = undefined;
    entry.client.disconnect().catch(() => undefined);
  };
  return {
    get() {
      if (current === undefined) {
        const client = create();
        const entry = {
          client,
          ready: client.connect().then(() => {
            events.connected?.();
            return client;
          }),
        };
        current = entry;
        entry.ready.catch(() => drop(entry));
      }
      return current.ready;
    },
    discard() {
      if (current === undefined) return;
      drop(current);
      events.discarded?.();
    },
    async close() {
      const entry = current;
      current = undefined;
      if (entry !== undefined) await entry.client.disconnect().catch(() => undefined);
    },
  };
}

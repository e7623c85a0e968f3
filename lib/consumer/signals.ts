/**
 * Ctrl-C / SIGTERM for a long-running member: the first signal stops it gracefully (finish the batch in
 * hand, commit, leave the group, disconnect); a signal more than a second later exits at once, as
 * terminal users expect. Copies of the first signal are ignored: Ctrl-C reaches every process of the
 * terminal's group, and npm (and npx) also forward it to their child, so one keypress arrives twice.
 */
import type { Logger } from '@aws-lambda-powertools/logger';

export type StopSignal = 'SIGINT' | 'SIGTERM';

/** Signals closer than this to the first one are taken as copies of it. */
export const DUPLICATE_SIGNAL_WINDOW_MS = 1_000;

/** Calls stop on the first SIGINT/SIGTERM; returns a function that removes the listeners. */
export function stopOnSignals(stop: () => Promise<unknown>, logger: Logger, signals: StopSignal[] = ['SIGINT', 'SIGTERM']): () => void {
  let firstAt: number | undefined;
  const onSignal = (signal: StopSignal) => {
    if (firstAt !== undefined) {
      if (Date.now() - firstAt < DUPLICATE_SIGNAL_WINDOW_MS) return;
      logger.warn('second signal: exiting without a graceful stop', { signal });
      // 128 + the signal's number, as a shell reports a process ended by it.
      process.exit(signal === 'SIGTERM' ? 143 : 130);
    }
    firstAt = Date.now();
    logger.info('signal received, stopping gracefully', { signal });
    void stop();
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}

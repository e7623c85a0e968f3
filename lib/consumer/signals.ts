/**
 * Ctrl-C / SIGTERM for a long-running member: the first signal stops it gracefully (finish the batch in
 * hand, commit, leave the group, disconnect); a second one exits at once, as terminal users expect.
 */
import type { Logger } from '@aws-lambda-powertools/logger';

export type StopSignal = 'SIGINT' | 'SIGTERM';

/** Calls stop on the first SIGINT/SIGTERM; returns a function that removes the listeners. */
export function stopOnSignals(stop: () => Promise<unknown>, logger: Logger, signals: StopSignal[] = ['SIGINT', 'SIGTERM']): () => void {
  let received = false;
  const onSignal = (signal: StopSignal) => {
    if (received) {
      logger.warn('second signal: exiting without a graceful stop', { signal });
      process.exit(130);
    }
    received = true;
    logger.info('signal received, stopping gracefully', { signal });
    void stop();
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}

/**
 * Like Promise.all, but settles every request before rejecting with the first failure: a kafkajs request
 * left running after its caller gave up (and disconnected) retries and reconnects, keeping the process alive.
 */
export async function settleAll<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results.map((result) => (result.status === 'fulfilled' ? result.value : undefined)) as unknown as T;
}

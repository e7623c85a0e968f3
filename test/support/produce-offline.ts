/**
 * `serverless offline start` isolated for the produce tests and benchmark: its own esbuild work folder (other
 * offline instances rebuilding the shared `.esbuild` cannot swap a bundle under a loading worker) and no
 * file watching (serverless-esbuild rebuilds on any .js/.ts change and serverless-offline then terminates
 * its workers, so a request in flight would hang to a 504 whenever someone saves a file).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startOffline, type Offline, type OfflineOptions } from './offline';
import { REPO_ROOT } from './processes';

export async function startIsolatedOffline(options: OfflineOptions = {}): Promise<Offline> {
  const workFolder = join('.esbuild', `offline-${randomBytes(5).toString('hex')}`);
  const remove = () => rmSync(join(REPO_ROOT, workFolder), { recursive: true, force: true });
  let offline: Offline;
  try {
    offline = await startOffline({
      ...options,
      env: { ESBUILD_WORK_FOLDER: workFolder, ESBUILD_WATCH_PATTERN: '.esbuild/no-watch/**', ...options.env },
    });
  } catch (error) {
    remove();
    throw error;
  }
  return {
    ...offline,
    stop: async () => {
      try {
        return await offline.stop();
      } finally {
        remove();
      }
    },
  };
}

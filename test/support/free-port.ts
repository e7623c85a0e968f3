import { createServer } from 'node:net';
import { freePort } from '../../scripts/support/free-port';

/** A TCP port that was free a moment ago (the OS picks it): the scripts' own. */
export { freePort };

/** Two consecutive free ports (the JVM broker wants port and port + 1 for its controller). */
export async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = await freePort();
    if (port < 65535 && (await portIsFree(port + 1))) return port;
  }
  throw new Error('no two consecutive free ports found');
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once('error', () => resolvePromise(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePromise(true)));
  });
}

/** `count` consecutive free ports (a three-broker cluster wants six: three brokers, three controllers). */
export async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await freePort();
    if (port + count > 65535) continue;
    let free = true;
    for (let next = port + 1; next < port + count && free; next += 1) free = await portIsFree(next);
    if (free) return port;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/**
 * serverless-offline prints three lines for every HTTP request (two blank ones, `GET /path (λ: fn)`, then
 * `(λ: fn) RequestId: … Duration …`). The live page polls GET /cluster/view once a second, which would bury
 * the terminal's story under them: those lines are dropped, for that route only; every other request's
 * lines, and everything else, are written as they come.
 */
const ESC = String.fromCharCode(27);
const ANSI = new RegExp(`${ESC}\\[[0-9;]*m`, 'g');

export function isPagePollingLine(text: string, route: string, functionKey: string): boolean {
  const plain = text.replace(ANSI, '').trim();
  return plain.startsWith(`GET ${route} (λ: ${functionKey})`) || plain.startsWith(`(λ: ${functionKey}) RequestId: `);
}

type Write = NodeJS.WriteStream['write'];

/** Wraps a stream's write: blank chunks are held until the next one shows whether they belong to a polling request. */
export function quietPagePolling(stream: NodeJS.WriteStream, route = '/cluster/view', functionKey = 'clusterView'): void {
  const write = stream.write.bind(stream) as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean;
  let held: Array<string | Uint8Array> = [];
  const wrapped = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    // Every log line passes here (one per invocation of a Kafka-triggered function): most are neither blank nor
    // about the polling function, and go straight through without the ANSI-stripping below.
    if (held.length === 0 && !text.includes(functionKey) && /\S/.test(text) && !text.includes(ESC)) {
      return write(chunk, ...rest);
    }
    const callback = rest.find((argument): argument is () => void => typeof argument === 'function');
    if (text.replace(ANSI, '').trim() === '' && held.length < 4) {
      held.push(chunk);
      callback?.();
      return true;
    }
    if (isPagePollingLine(text, route, functionKey)) {
      held = [];
      callback?.();
      return true;
    }
    for (const blank of held) write(blank);
    held = [];
    return write(chunk, ...rest);
  };
  stream.write = wrapped as Write;
}

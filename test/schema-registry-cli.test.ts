/**
 * registry:up / registry:status / registry:down run as users run them (npm scripts), on a free port of the
 * test's own, checked against what the registry answers over HTTP.
 */
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../scripts/local-kafka/processes';
import { registryDown, registryPaths } from '../scripts/local-registry/registry';
import { freePort } from './support/free-port';
import { REPO_ROOT } from './support/processes';
import { testRegistryUrl } from './support/schema-registry';

function npm(args: string[], env: NodeJS.ProcessEnv) {
  return run('npm', ['run', '--silent', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeoutMs: 150_000 });
}

describe('npm run registry:up / registry:status / registry:down', () => {
  let port = 0;
  afterAll(async () => {
    if (port === 0) return;
    await registryDown(port, () => undefined);
    rmSync(registryPaths(port).dir, { recursive: true, force: true });
  });

  it('starts the registry on 127.0.0.1, says what it waits for and prints the base URL; down stops it', async () => {
    port = await freePort();
    const env = { SCHEMA_REGISTRY_URL: '', SCHEMA_REGISTRY_PORT: String(port) };
    const baseUrl = `http://127.0.0.1:${port}/apis/ccompat/v7`;

    const up = await npm(['registry:up'], env);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain(`waiting for http://127.0.0.1:${port}/health/ready to answer UP`);
    expect(up.stdout).toContain(`ready: schema registry base URL ${baseUrl}`);
    const subjects = await fetch(`${baseUrl}/subjects`);
    expect(subjects.status).toBe(200);
    expect(await subjects.json()).toEqual([]);

    const again = await npm(['registry:up'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already running');

    const status = await npm(['registry:status'], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`${baseUrl}: answers`);

    const down = await npm(['registry:down'], env);
    expect(down.code).toBe(0);
    expect(down.stdout).toContain('stopped');
    await expect(fetch(`${baseUrl}/subjects`)).rejects.toThrow();
    const after = await npm(['registry:status'], env);
    expect(after.code).toBe(1);
    expect(after.stdout).toContain('does not answer');
  });

  it('refuses a port held by another program, and names the way out', async () => {
    const server = createServer();
    await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
    const address = server.address();
    try {
      const taken = typeof address === 'object' && address !== null ? address.port : 0;
      const result = await npm(['registry:up'], { SCHEMA_REGISTRY_URL: '', SCHEMA_REGISTRY_PORT: String(taken) });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`port ${taken} is in use by a program that registry:up did not start`);
      expect(result.stderr).toContain('SCHEMA_REGISTRY_URL');
    } finally {
      server.close();
    }
  });

  it('with SCHEMA_REGISTRY_URL checks that registry and starts nothing', async () => {
    const result = await npm(['registry:up'], { SCHEMA_REGISTRY_URL: testRegistryUrl() });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`ready: schema registry base URL ${testRegistryUrl()}`);
    const unreachable = await npm(['registry:up'], { SCHEMA_REGISTRY_URL: `http://127.0.0.1:${await freePort()}/apis/ccompat/v7` });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('does not answer');
  });
});

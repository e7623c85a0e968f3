/**
 * Provides a real Confluent-compatible schema registry to the tests that need one:
 *   1. SCHEMA_REGISTRY_URL if set (one you run: Confluent's or another);
 *   2. else the local Apicurio Registry, through the same code as `npm run registry:up`, on a free port of
 *      its own (a registry you run on 8081 is left alone), stopped afterwards (its storage is in memory).
 * Tests read the URL with inject('schemaRegistryUrl'); child processes get SCHEMA_REGISTRY_URL in their env.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { KAFKA_HOME } from '../scripts/local-kafka/paths';
import { processAlive } from '../scripts/local-kafka/processes';
import { registryAnswers, registryDown, registryUp } from '../scripts/local-registry/registry';
import { freePort } from './support/free-port';

const say = (line: string) => console.log(`[registry] ${line}`);

const ownerFile = (port: number) => join(KAFKA_HOME, `test-registry-${port}.owner`);

/** Stops test registries whose test run is gone (killed before its teardown ran). */
async function reapOrphanedTestRegistries(): Promise<void> {
  if (!existsSync(KAFKA_HOME)) return;
  for (const name of readdirSync(KAFKA_HOME)) {
    const match = /^test-registry-(\d+)\.owner$/.exec(name);
    if (!match) continue;
    const port = Number(match[1]);
    if (processAlive(Number(readFileSync(join(KAFKA_HOME, name), 'utf8')))) continue;
    say(`stopping the test registry on port ${port} left by an earlier run`);
    await registryDown(port, say);
    rmSync(join(KAFKA_HOME, `registry-${port}`), { recursive: true, force: true });
    rmSync(ownerFile(port), { force: true });
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = process.env.SCHEMA_REGISTRY_URL?.trim();
  if (fromEnv) {
    say(`using the schema registry in SCHEMA_REGISTRY_URL: ${fromEnv}`);
    if (!(await registryAnswers(fromEnv))) throw new Error(`the schema registry at ${fromEnv} does not answer GET /subjects`);
    project.provide('schemaRegistryUrl', fromEnv.replace(/\/+$/, ''));
    return async () => undefined;
  }
  await reapOrphanedTestRegistries();
  const port = await freePort();
  mkdirSync(KAFKA_HOME, { recursive: true });
  writeFileSync(ownerFile(port), String(process.pid));
  say(`no SCHEMA_REGISTRY_URL: starting the local schema registry on port ${port}`);
  const started = await registryUp(port, say);
  process.env.SCHEMA_REGISTRY_URL = started.baseUrl;
  project.provide('schemaRegistryUrl', started.baseUrl);
  return async () => {
    await registryDown(port, say);
    rmSync(join(KAFKA_HOME, `registry-${port}`), { recursive: true, force: true });
    rmSync(ownerFile(port), { force: true });
  };
}

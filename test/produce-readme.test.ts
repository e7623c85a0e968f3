/**
 * The README's "Produce" section is a contract: every curl command in it runs here, word for word except
 * for the URL's port and the topic (each test owns its topic), against the real `serverless offline start`
 * configured as the comment above the command says (`# with VAR=value npm start`). Printed answers in the
 * README (`# {…}` lines and the json block) must equal what the command prints.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, testBrokers, uniqueName } from './support/kafka';
import type { Offline } from './support/offline';
import { startOffline } from './support/offline';
import { REPO_ROOT, runCommand } from './support/processes';

interface Snippet {
  command: string;
  env: Record<string, string>;
  /** What the README shows the command prints, if it does. */
  expected: string | undefined;
}

function produceSection(): string {
  const readme = readFileSync(resolve(REPO_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Produce');
  const end = readme.indexOf('\n## ', start + 1);
  if (start < 0) throw new Error('README has no "## Produce" section');
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The shell blocks of the section, split into commands (continuation lines joined). */
function snippets(section: string): { commands: Snippet[]; jsonBlocks: string[] } {
  const commands: Snippet[] = [];
  const jsonBlocks = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => (match[1] ?? '').trim());
  for (const block of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = (block[1] ?? '').split('\n');
    let env: Record<string, string> = {};
    for (let i = 0; i < lines.length; i += 1) {
      const line = lines[i] ?? '';
      const withEnv = line.match(/^# with ((?:[A-Z_]+=\S+ )+)npm start/);
      if (withEnv?.[1] !== undefined) {
        env = Object.fromEntries(
          withEnv[1]
            .trim()
            .split(' ')
            .map((pair) => pair.split('=') as [string, string]),
        );
        continue;
      }
      if (line.trim() === '' || line.startsWith('#')) continue;
      let command = line;
      while (command.endsWith('\\') || (command.includes("-d '") && (command.split("'").length - 1) % 2 === 1)) {
        i += 1;
        command += `\n${lines[i] ?? ''}`;
      }
      const next = lines[i + 1];
      commands.push({ command, env, expected: next?.startsWith('# {') ? next.slice(2) : undefined });
    }
  }
  return { commands, jsonBlocks };
}

const topic = uniqueName('readme-produce');
const section = produceSection();
const { commands, jsonBlocks } = snippets(section);
const offlines = new Map<string, Offline>();

function envKey(env: Record<string, string>): string {
  return JSON.stringify(Object.entries(env).sort());
}

function adapt(command: string, offline: Offline | undefined): string {
  let adapted = command.replaceAll('payment-done', topic).replaceAll('localhost:9092', testBrokers().join(','));
  if (offline !== undefined) adapted = adapted.replaceAll('http://localhost:3000', offline.baseUrl);
  return adapted;
}

beforeAll(async () => {
  await createTopic(topic, 3);
  for (const { command, env } of commands) {
    if (!command.startsWith('curl') || offlines.has(envKey(env))) continue;
    offlines.set(envKey(env), await startOffline({ env: { PRODUCE_TOPICS: topic, KAFKA_TOPIC: topic, ...env } }));
  }
});

afterAll(async () => {
  await Promise.all([...offlines.values()].map((offline) => offline.stop()));
});

describe("the README's Produce section", () => {
  it('has the tutorial command, a batch, the custom strategy, an error and the API key, all served at localhost:3000/produce', () => {
    const curls = commands.filter(({ command }) => command.startsWith('curl'));
    expect(curls.length).toBeGreaterThanOrEqual(5);
    for (const { command } of curls) expect(command).toContain('http://localhost:3000/produce');
    expect(curls.some(({ env }) => env.PRODUCE_PARTITIONER === 'vip-users')).toBe(true);
    expect(curls.some(({ env }) => env.PRODUCE_API_KEY !== undefined)).toBe(true);
  });

  it('runs every command in order and prints what the README says it prints', async () => {
    const outputs: string[] = [];
    for (const { command, env, expected } of commands) {
      const offline = command.startsWith('curl') ? offlines.get(envKey(env)) : undefined;
      const { code, stdout, stderr } = await runCommand('bash', ['-c', adapt(command, offline)]);
      expect(code, `${command}\n${stderr}`).toBe(0);
      outputs.push(stdout);
      if (command.startsWith('curl')) {
        const answer = JSON.parse(stdout) as { results?: unknown; error?: unknown };
        if (expected !== undefined) expect(stdout.trim()).toBe(adapt(expected, undefined));
        else expect(answer.results, `${command}\n→ ${stdout}`).toBeDefined();
        if (env.PRODUCE_PARTITIONER === 'vip-users') {
          // The VIP record in its own lane, the other one elsewhere.
          expect(answer.results).toEqual([
            expect.objectContaining({ partition: 0 }),
            expect.objectContaining({ partition: expect.any(Number) }),
          ]);
          expect(answer.results).not.toContainEqual(expect.objectContaining({ key: 'user2', partition: 0 }));
        }
      }
    }
    // The tutorial's record: the answer the json block shows, and Kafka's console consumer finds it there.
    expect(outputs[0]?.trim()).toBe(adapt(jsonBlocks[0] ?? '', undefined));
    expect(outputs[1]).toContain('Partition:0\tOffset:0\tuser1\thi there');
  });
});

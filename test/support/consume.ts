/** Helpers for the consume tests: start members through the users' commands, read their JSON log lines. */
import { writeFileSync } from 'node:fs';
import type { MSKRecord } from 'aws-lambda';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { type Config, loadConfig } from '../../lib/config';
import type { GroupMemberOptions } from '../../lib/consumer/group-member';
import { eventRecords, type KafkaEvent } from '../../lib/consumer/lambda-event';
import { createKafka } from '../../lib/kafka/client';
import { logger } from '../../lib/logger';
import { jsonLines, startProcess, type LogLine, type RunningProcess } from './processes';
import { sendRecords, testBrokers } from './kafka';
import { waitFor } from './wait';

export interface ProcessedRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  memberId: string;
  member: string;
}

export interface Member {
  name: string;
  process: RunningProcess;
}

/**
 * A member process started inside a test: killed when the test ends, however it ends. CONSUME_TEST_LOG_DIR=dir
 * keeps every member's output there for a look after a failure.
 */
function memberOfTest(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Member {
  const member = { name, process: startProcess(command, args, { FORCE_COLOR: '0', ...env }) };
  onTestFinished(async () => {
    await member.process.stop('SIGKILL', 5_000);
    const dir = process.env.CONSUME_TEST_LOG_DIR;
    if (dir !== undefined) writeFileSync(join(dir, `${name}.log`), member.process.output());
  });
  return member;
}

/** `npm run consume -- --topic … --group … <args>` in its own process group, for the running test. */
export function startConsumeCli(name: string, topic: string, groupId: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Member {
  return memberOfTest(name, 'npm', ['run', '-s', 'consume', '--', '--topic', topic, '--group', groupId, ...args], env);
}

/** `npx serverless invoke local -f consume --data '{…}'` in its own process group, for the running test. */
export function startConsumeInvoke(name: string, data: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Member {
  return memberOfTest(name, 'npx', ['serverless', 'invoke', 'local', '-f', 'consume', '--data', JSON.stringify(data)], env);
}

/** Every JSON object line a member printed (Powertools writes INFO to stdout, WARN and ERROR to stderr). */
export function logLines(member: Member): LogLine[] {
  return jsonLines(member.process.output());
}

export function processed(member: Member): ProcessedRecord[] {
  return logLines(member)
    .filter((line) => line.message === 'record processed')
    .map((line) => ({
      partition: Number(line.partition),
      offset: Number(line.offset),
      key: typeof line.key === 'string' ? line.key : null,
      value: typeof line.value === 'string' ? line.value : null,
      memberId: String(line.memberId),
      member: member.name,
    }));
}

/** Partitions of the member's latest "group joined" line (undefined before it joined). */
export function latestAssignment(member: Member, topic: string): number[] | undefined {
  const joins = logLines(member).filter((line) => line.message === 'group joined');
  const last = joins[joins.length - 1];
  if (last === undefined) return undefined;
  const assignment = last.assignment as Record<string, number[]> | undefined;
  return [...(assignment?.[topic] ?? [])].sort((a, b) => a - b);
}

/** Waits until the members' latest assignments give each listed member exactly one partition, all distinct, covering `partitions`. */
export function waitForOnePartitionEach(
  members: Member[],
  topic: string,
  partitions: number[],
  timeoutMs = 60_000,
): Promise<Map<string, number>> {
  return waitFor(
    () =>
      members
        .map((member) => `${member.name}: ${JSON.stringify(latestAssignment(member, topic))}\n${member.process.output().slice(-1500)}`)
        .join('\n'),
    () => {
      const held = new Map<string, number>();
      for (const member of members) {
        const assignment = latestAssignment(member, topic);
        if (assignment === undefined || assignment.length !== 1 || assignment[0] === undefined) return undefined;
        held.set(member.name, assignment[0]);
      }
      const covered = new Set(held.values());
      return covered.size === partitions.length && partitions.every((p) => covered.has(p)) ? held : undefined;
    },
    timeoutMs,
  );
}

/** Produces `count` records keyed key-(i mod keys), values value-i, with the Java client's partitioner. */
export async function produceKeyed(topic: string, count: number, keys: number, from = 0): Promise<void> {
  const messages = Array.from({ length: count }, (_, index) => ({ key: `key-${(from + index) % keys}`, value: `value-${from + index}` }));
  await sendRecords(topic, messages);
}

/** The last summary a member logged ("group left" line). */
export function summaryOf(member: Member): LogLine | undefined {
  return logLines(member)
    .filter((line) => line.message === 'group left')
    .pop();
}

let config: Config | undefined;

/** The project's configuration on the test's broker, with the broker's minimum session timeout (6 s). */
export function memberConfig(): Config {
  config ??= loadConfig({ KAFKA_BROKERS: testBrokers().join(','), KAFKA_SESSION_TIMEOUT_MS: '6000', KAFKA_HEARTBEAT_INTERVAL_MS: '500' });
  return config;
}

/**
 * Options for an in-process group member (lib/consumer/group-member) of the test's own: from the start of the
 * topic, no batching window, every record it is given pushed to `seen`; `extra` overrides any of them.
 */
export function memberOptions(topic: string, groupId: string, seen: MSKRecord[], extra: Partial<GroupMemberOptions>): GroupMemberOptions {
  const { kafka, consume } = memberConfig();
  return {
    kafka: createKafka(kafka, logger),
    logger,
    groupId,
    topic,
    startingPosition: 'TRIM_HORIZON',
    ...consume,
    batchWindowMs: 0,
    eventSource: { kind: 'SelfManagedKafka', bootstrapServers: kafka.brokers },
    invoke: async (event: KafkaEvent) => {
      seen.push(...eventRecords(event));
    },
    ...extra,
  };
}

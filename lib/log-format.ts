/**
 * How the one Powertools Logger prints: JSON lines (Powertools' own layout) for machines — Lambda, pipes,
 * tests — and one compact line per event for a person at a terminal:
 *
 *   18:09:55.952 INFO  record processed payment-done-2@18175 key=user4 value="paid 40" group=my-app3 member=5f0c1a2b
 *
 * LOG_FORMAT=json|pretty forces either (lib/config.ts validates it); unset, a terminal on stdout gets pretty lines
 * and anything else JSON.
 * Both go through Powertools' extension points: a LogFormatter builds the item, and for pretty lines a
 * LogItem that knows its own text, which the logger prints instead of the JSON.
 */
import { isMainThread } from 'node:worker_threads';
import { LogFormatter, LogItem, Logger } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions, LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * The format for a process: LOG_FORMAT when set (lib/config.ts reads and validates it), JSON in AWS Lambda and
 * in serverless-offline's handler workers unless told (their stdout is never a terminal; the offline-kafka
 * plugin hands the main process's choice down as LOG_FORMAT), else pretty on a terminal and JSON into a pipe
 * or a file.
 */
export function chooseLogFormat(forced: LogFormat | undefined, stdoutIsTTY: boolean): LogFormat {
  return forced ?? (stdoutIsTTY ? 'pretty' : 'json');
}

/** The JSON layout Powertools prints by default (level, message, timestamp, service, sampling_rate, context…). */
function standardAttributes(attributes: UnformattedAttributes, timestamp: string): LogAttributes {
  const context = attributes.lambdaContext;
  return {
    level: attributes.logLevel,
    message: attributes.message,
    timestamp,
    service: attributes.serviceName,
    cold_start: context?.coldStart,
    function_arn: context?.invokedFunctionArn,
    function_memory_size: context?.memoryLimitInMB,
    function_name: context?.functionName,
    function_request_id: context?.awsRequestId,
    sampling_rate: attributes.sampleRateValue,
    xray_trace_id: attributes.xRayTraceId,
    tenant_id: context?.tenantId,
  };
}

/** A log item that also carries its one-line rendering. */
export class TerminalLogItem extends LogItem {
  constructor(
    attributes: LogAttributes,
    readonly level: string,
    readonly text: string,
  ) {
    super({ attributes });
  }
}

const LEVEL_COLOURS: Record<string, string> = { ERROR: '31', CRITICAL: '31', WARN: '33', DEBUG: '2', TRACE: '2' };
// Keys every line of a process carries (or that repeat what another key says): left out of terminal lines.
const QUIET_KEYS = new Set(['component', 'mapping', 'stack']);
const RENAMED: Record<string, string> = { groupId: 'group', memberId: 'member', correlationId: 'request' };

/** `kafka-functions-8b8659a4-5d40-…` → `8b8659a4`: the first block of the broker's UUID, as the page shows it. */
export function shortMemberId(memberId: string): string {
  const match = /([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.exec(memberId);
  return match?.[1] ?? memberId;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

function clock(date: Date): string {
  return `${pad(date.getHours(), 2)}:${pad(date.getMinutes(), 2)}:${pad(date.getSeconds(), 2)}.${pad(date.getMilliseconds(), 3)}`;
}

function errorText(value: unknown): string {
  if (typeof value === 'object' && value !== null && 'message' in value && typeof value.message === 'string') {
    const name = 'name' in value && typeof value.name === 'string' && value.name !== 'Error' ? `${value.name}: ` : '';
    return `${name}${value.message}`;
  }
  return String(value);
}

function valueText(value: unknown): string {
  if (typeof value === 'string') return /^[\w.:/@,+*=-]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Error) return JSON.stringify(errorText(value));
  return JSON.stringify(value) ?? String(value);
}

/** `topic-partition@offset` (or `topic-partition`, or `topic`) and the keys it used. */
function recordPosition(fields: LogAttributes): { text: string | undefined; used: string[] } {
  const { topic, partition, offset } = fields;
  if (typeof topic !== 'string') return { text: undefined, used: [] };
  if (typeof partition !== 'number') return { text: topic, used: ['topic'] };
  if (typeof offset !== 'number' && typeof offset !== 'string') return { text: `${topic}-${partition}`, used: ['topic', 'partition'] };
  return { text: `${topic}-${partition}@${offset}`, used: ['topic', 'partition', 'offset'] };
}

/** One line: time, level, message, the record's position, then every other key as key=value. */
export function terminalLine(level: string, message: string, time: Date, fields: LogAttributes, colour: boolean): string {
  const position = recordPosition(fields);
  const parts = [message];
  if (position.text !== undefined) parts.push(position.text);
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null || value === '' || QUIET_KEYS.has(key) || position.used.includes(key)) continue;
    if (key === 'error') parts.push(`error=${JSON.stringify(errorText(value))}`);
    else if (key === 'memberId' && typeof value === 'string') parts.push(`member=${shortMemberId(value)}`);
    else parts.push(`${RENAMED[key] ?? key}=${valueText(value)}`);
  }
  const levelText = level.padEnd(5);
  const code = LEVEL_COLOURS[level];
  const shownLevel = colour && code !== undefined ? `\u001b[${code}m${levelText}\u001b[0m` : levelText;
  const shownTime = colour ? `\u001b[2m${clock(time)}\u001b[0m` : clock(time);
  return `${shownTime} ${shownLevel} ${parts.join(' ')}`;
}

/** Powertools LogFormatter for both formats; pretty items are TerminalLogItems. */
export class KafkaFunctionsLogFormatter extends LogFormatter {
  constructor(
    readonly format: LogFormat,
    private readonly colour = false,
  ) {
    super();
  }

  formatAttributes(attributes: UnformattedAttributes, additionalLogAttributes: LogAttributes): LogItem {
    const standard = standardAttributes(attributes, this.formatTimestamp(attributes.timestamp));
    if (this.format === 'json') return new LogItem({ attributes: standard }).addAttributes(additionalLogAttributes);
    const text = terminalLine(attributes.logLevel, attributes.message, attributes.timestamp, additionalLogAttributes, this.colour);
    return new TerminalLogItem({ ...standard, ...additionalLogAttributes }, attributes.logLevel, text);
  }
}

/** The project's Logger: Powertools', printing a TerminalLogItem as its line (stderr for WARN and above, as Powertools does). */
export class KafkaFunctionsLogger extends Logger {
  protected override createLogger(options?: ConstructorOptions): Logger {
    return new KafkaFunctionsLogger(options);
  }

  protected override printLog(logLevel: number, log: LogItem): void {
    if (!(log instanceof TerminalLogItem)) {
      super.printLog(logLevel, log);
      return;
    }
    const stream = log.level === 'INFO' || log.level === 'DEBUG' || log.level === 'TRACE' ? process.stdout : process.stderr;
    stream.write(`${log.text}\n`);
  }
}

/** The formatter for this process: LOG_FORMAT (as lib/config.ts read it) and whether stdout is a terminal (never in a worker thread). */
export function processLogFormatter(forced: LogFormat | undefined, env: NodeJS.ProcessEnv = process.env): KafkaFunctionsLogFormatter {
  const tty = isMainThread && process.stdout.isTTY === true;
  const format = chooseLogFormat(forced, tty);
  const colour = format === 'pretty' && tty && (env.NO_COLOR ?? '') === '';
  return new KafkaFunctionsLogFormatter(format, colour);
}

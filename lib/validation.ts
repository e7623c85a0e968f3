/**
 * The shared input rules, each defined once: config, the produce request, the HTTP functions, the consume
 * request and the offline plugin's event settings import them.
 */

/** A JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Kafka's limit on a topic name's length (Topic.validate). */
export const MAX_TOPIC_NAME_LENGTH = 249;
const TOPIC_CHARACTERS = /^[a-zA-Z0-9._-]+$/;

/** Only the characters Kafka allows in a topic name: letters, digits, '.', '_', '-'. */
function hasTopicCharacters(name: string): boolean {
  return TOPIC_CHARACTERS.test(name);
}

/** A name Kafka accepts for a topic (Topic.validate): legal characters, 1 to 249 of them, not "." or "..". */
export function isTopicName(name: string): boolean {
  return name.length <= MAX_TOPIC_NAME_LENGTH && hasTopicCharacters(name) && name !== '.' && name !== '..';
}

const GROUP_NAME = /^[^\s]{1,255}$/;

/** A consumer group id: 1 to 255 characters, no whitespace. */
export function isGroupName(name: string): boolean {
  return GROUP_NAME.test(name);
}

/**
 * What is wrong with a schema registry's base URL (undefined when nothing): it must be http(s), and carry no
 * credentials (registry authentication is not emulated, and credentials in a URL end up in logs).
 */
export function registryUrlProblem(raw: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return `expected an http(s) URL, got '${raw}'`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `expected an http(s) URL, got '${raw}'`;
  if (parsed.username !== '' || parsed.password !== '') return 'credentials in the URL are not supported';
  return undefined;
}

const HOST_PORT = /^[^\s:,]+:\d{1,5}$/;

/** One bootstrap broker address, `host:port`. */
export function isHostPort(address: string): boolean {
  return HOST_PORT.test(address);
}

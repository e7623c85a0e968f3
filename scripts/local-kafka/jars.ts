/**
 * Kafka 3.7.1's broker and tool jars from Maven Central, fetched once by Maven into .kafka/jars
 * (git-ignored) and reused after that.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JARS_DIR, JARS_POM, KAFKA_HOME, KAFKA_VERSION } from './paths';
import { run } from './processes';

const MARKER = join(JARS_DIR, `.complete-${KAFKA_VERSION}`);

export function jarsPresent(): boolean {
  return existsSync(MARKER) && readdirSync(JARS_DIR).some((name) => name === `kafka_2.13-${KAFKA_VERSION}.jar`);
}

/** The classpath of every Kafka jar, as java's -cp wants it. */
export function classpath(): string {
  return `${JARS_DIR}/*`;
}

/** Fetches the jars with Maven unless they are already there. Prints what it does. */
export async function ensureJars(say: (line: string) => void = console.log): Promise<void> {
  if (jarsPresent()) return;
  mkdirSync(JARS_DIR, { recursive: true });
  say(`fetching Kafka ${KAFKA_VERSION} jars from Maven Central into ${JARS_DIR} (first run only)…`);
  const started = Date.now();
  const result = await run(
    'mvn',
    ['-q', '-B', '-f', JARS_POM, 'dependency:copy-dependencies', `-DoutputDirectory=${JARS_DIR}`, '-DincludeScope=runtime'],
    { timeoutMs: 600_000 },
  );
  if (result.code !== 0) {
    const reason = result.code === null ? `could not run mvn (${result.stderr.trim()})` : `mvn exited ${result.code}`;
    throw new Error(`fetching the Kafka jars failed: ${reason}\n${result.stdout}${result.stderr}`.trim());
  }
  writeFileSync(MARKER, new Date().toISOString());
  say(
    `fetched ${readdirSync(JARS_DIR).filter((name) => name.endsWith('.jar')).length} jars ` +
      `in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

/** log4j config for the command-line tools: WARN and above to stderr, as Kafka's tools-log4j.properties. */
export function toolsLog4jFile(): string {
  mkdirSync(KAFKA_HOME, { recursive: true });
  const file = join(KAFKA_HOME, 'tools-log4j.properties');
  writeFileSync(
    file,
    [
      'log4j.rootLogger=WARN, stderr',
      'log4j.appender.stderr=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.appender.stderr.Target=System.err',
      '',
    ].join('\n'),
  );
  return file;
}

/** True when a java executable answers. */
export async function javaAvailable(): Promise<boolean> {
  const result = await run('java', ['-version'], { timeoutMs: 10_000 });
  return result.code === 0;
}

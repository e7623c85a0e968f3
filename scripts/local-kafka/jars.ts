/**
 * A Kafka release's broker and tool jars from Maven Central, fetched once by Maven into .kafka/jars/<version>
 * (git-ignored) and reused after that. KAFKA_VERSION chooses the release (scripts/local-kafka/versions.ts).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JARS_POM } from './paths';
import { run } from './processes';
import { jarsDir, type KafkaRelease, kafkaRelease, toolsLoggingFlag } from './versions';

const marker = (release: KafkaRelease) => join(jarsDir(release), `.complete-${release.version}`);

export function jarsPresent(release: KafkaRelease = kafkaRelease()): boolean {
  const dir = jarsDir(release);
  return existsSync(marker(release)) && readdirSync(dir).some((name) => name === `kafka_2.13-${release.version}.jar`);
}

/** The classpath of every jar of a release, as java's -cp wants it. */
export function classpath(release: KafkaRelease = kafkaRelease()): string {
  return `${jarsDir(release)}/*`;
}

/** Fetches the jars with Maven unless they are already there. Prints what it does. */
export async function ensureJars(say: (line: string) => void = console.log, release: KafkaRelease = kafkaRelease()): Promise<void> {
  if (jarsPresent(release)) return;
  const dir = jarsDir(release);
  mkdirSync(dir, { recursive: true });
  say(`fetching Kafka ${release.version} jars from Maven Central into ${dir} (first run only)…`);
  const started = Date.now();
  const result = await run(
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      JARS_POM,
      `-Dkafka.version=${release.version}`,
      `-Dkafka.logging=${release.logging}`,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${dir}`,
      '-DincludeScope=runtime',
    ],
    { timeoutMs: 600_000 },
  );
  if (result.code !== 0) {
    const reason = result.code === null ? `could not run mvn (${result.stderr.trim()})` : `mvn exited ${result.code}`;
    throw new Error(`fetching the Kafka ${release.version} jars failed: ${reason}\n${result.stdout}${result.stderr}`.trim());
  }
  writeFileSync(marker(release), new Date().toISOString());
  say(
    `fetched ${readdirSync(dir).filter((name) => name.endsWith('.jar')).length} jars ` +
      `in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

/** The JVM flag for the tools' logging config: WARN and above to stderr (see versions.ts). */
export function toolsLog4jFlag(release: KafkaRelease = kafkaRelease()): string {
  return toolsLoggingFlag(release);
}

/** True when a java executable answers. */
export async function javaAvailable(): Promise<boolean> {
  const result = await run('java', ['-version'], { timeoutMs: 10_000 });
  return result.code === 0;
}

/**
 * `serverless package` of the project's own serverless.yml (what `serverless deploy` would upload) with a SASL
 * password in the environment: the CloudFormation template, the state file and the zips carry the other Kafka
 * settings, never the password (README "Credentials on AWS"). Under `npm start` the plugin hands it to offline's
 * handlers in memory: test/secure-kafka.test.ts proves /produce and the Kafka-triggered function log in with it;
 * `serverless invoke local` runs the handler in its own process, which reads it from the environment.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startConsumeInvoke } from './support/consume';
import { freePort } from './support/free-port';
import { uniqueName } from './support/kafka';
import { type Packaged, packageShippedService } from './support/offline-kafka';
import { runCommand } from './support/processes';

interface Template {
  Resources: Record<string, { Type: string; Properties: { Environment?: { Variables?: Record<string, unknown> } } }>;
}

describe('serverless package with KAFKA_SASL_PASSWORD set', () => {
  const password = uniqueName('not-for-the-template');
  let run: Packaged | undefined;
  afterAll(() => {
    if (run !== undefined) rmSync(run.folder, { recursive: true, force: true });
  });

  it('writes the SASL mechanism and user into every function, and the password into no file of the package', async () => {
    // Prepare and act: the secured-cluster settings of README "Pointing at MSK or your own cluster".
    run = await packageShippedService(
      {
        KAFKA_BROKERS: 'b-1.mycluster.example:9096',
        KAFKA_SSL: 'true',
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'alice',
        KAFKA_SASL_PASSWORD: password,
      },
      240_000,
    );
    expect(run.exit, run.output).toBe(0);

    // Assess: the functions are configured from the environment, all but the password.
    const files = readdirSync(run.folder);
    const template = JSON.parse(readFileSync(join(run.folder, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
    const functions = Object.values(template.Resources).filter(({ Type }) => Type === 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThanOrEqual(6);
    for (const { Properties } of functions) {
      const variables = Properties.Environment?.Variables ?? {};
      expect(variables).toMatchObject({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'alice', KAFKA_SSL: 'true' });
      expect(variables).not.toHaveProperty('KAFKA_SASL_PASSWORD');
    }
    expect(files.some((file) => file.endsWith('.zip'))).toBe(true);
    for (const file of files) {
      const path = join(run.folder, file);
      const text = file.endsWith('.zip') ? (await runCommand('unzip', ['-p', path])).stdout : readFileSync(path, 'utf8');
      expect(text.length, file).toBeGreaterThan(0);
      expect(text.includes(password), `${file} holds the password`).toBe(false);
    }
    expect(run.output).not.toContain(password);
  }, 300_000);
});

describe('serverless invoke local with KAFKA_SASL_PASSWORD set', () => {
  it('hands the password to the handler from the environment: it gets as far as connecting, not a config error', async () => {
    // Nothing listens on the port: the invocation ends on the connection, after the config was read.
    const brokers = `localhost:${await freePort()}`;
    const sasl = { KAFKA_BROKERS: brokers, KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'alice' };
    const member = startConsumeInvoke('invoke-sasl', { durationSeconds: 5 }, { ...sasl, KAFKA_SASL_PASSWORD: uniqueName('pw') });
    await member.process.exited;
    expect(member.process.output()).toMatch(/could not start the member .*ECONNREFUSED/);
    expect(member.process.output()).not.toContain('KAFKA_SASL_PASSWORD: required');
  }, 120_000);
});

/**
 * `npm run kafka:up -- --secure`: one JVM broker whose client listener is SASL_SSL with SCRAM-SHA-512, as
 * MSK's SASL/SCRAM listener is. On the first start it makes a CA and a broker certificate for localhost
 * (the JDK's keytool), a SCRAM user for clients and one for the broker itself (created in the metadata
 * when the storage is formatted, `kafka-storage format --add-scram`), and it writes what a client needs to
 * .kafka/secure.env. Secrets live only in files of mode 600 under the broker's folder and in secure.env;
 * no command line, log line or message carries one.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { KafkaConnectionConfig } from '../../lib/config';
import { instanceDir, KAFKA_HOME, REPO_ROOT } from './paths';
import { run } from './processes';

/** What the JVM launcher adds for a secured broker. */
export interface BrokerSecurity {
  /** Lines appended to server.properties (a later key wins in a Java properties file). */
  properties: (port: number, controllerPort: number) => string[];
  /** Extra arguments to `kafka-storage format`: the SCRAM users. */
  formatArgs: string[];
  /** Values that must never be printed: taken out of any error message. */
  secrets: string[];
}

interface Credentials {
  username: string;
  password: string;
  brokerUsername: string;
  brokerPassword: string;
  storePassword: string;
}

/** The user clients log in as. */
export const SECURE_USERNAME = 'kafka-functions';
const BROKER_USERNAME = 'kafka-broker';

function secureDir(port: number): string {
  return join(instanceDir(port), 'secure');
}

const files = (port: number) => {
  const dir = secureDir(port);
  return {
    dir,
    credentials: join(dir, 'credentials.json'),
    caStore: join(dir, 'ca.p12'),
    caPem: join(dir, 'ca.pem'),
    brokerStore: join(dir, 'broker.p12'),
    brokerCsr: join(dir, 'broker.csr'),
    brokerPem: join(dir, 'broker.pem'),
  };
};

/** The client settings file: .kafka/secure.env for the default port, .kafka/secure-<port>.env for another. */
export function secureEnvFile(port: number): string {
  return join(KAFKA_HOME, port === 9092 ? 'secure.env' : `secure-${port}.env`);
}

/** True when the broker folder on this port belongs to a secured broker (kafka:up --secure made it). */
export function isSecureInstance(port: number): boolean {
  return existsSync(files(port).credentials);
}

function writePrivate(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

const secret = () => randomBytes(18).toString('hex');

/** Replaces every secret in a text with `***` (for error messages that quote a tool's output). */
export function redact(text: string, secrets: string[]): string {
  return secrets.filter((value) => value !== '').reduce((result, value) => result.split(value).join('***'), text);
}

async function keytool(args: string[], storePasswords: Record<string, string>, what: string): Promise<void> {
  // Passwords reach keytool through its environment (-storepass:env), never on its command line.
  const result = await run('keytool', args, { env: { ...process.env, ...storePasswords }, timeoutMs: 60_000 });
  if (result.code !== 0) {
    const reason = result.code === null ? `could not run keytool (${result.stderr.trim()})` : `keytool exited ${result.code}`;
    throw new Error(`${what} failed: ${reason}\n${redact(result.stdout + result.stderr, Object.values(storePasswords))}`.trim());
  }
}

/** A CA, and a broker certificate for localhost / 127.0.0.1 / ::1 signed by it, in PKCS#12 stores; the CA also as PEM. */
async function makeCertificates(port: number, storePassword: string): Promise<void> {
  const f = files(port);
  const env = { KAFKA_FUNCTIONS_STORE_PASSWORD: storePassword };
  const store = (file: string) => ['-keystore', file, '-storetype', 'PKCS12', '-storepass:env', 'KAFKA_FUNCTIONS_STORE_PASSWORD'];
  const key = ['-keyalg', 'RSA', '-keysize', '2048', '-validity', '825'];
  await keytool(
    ['-genkeypair', '-alias', 'ca', ...key, '-dname', 'CN=kafka-functions local CA', '-ext', 'bc:c', ...store(f.caStore)],
    env,
    'making the CA',
  );
  await keytool(['-exportcert', '-rfc', '-alias', 'ca', '-file', f.caPem, ...store(f.caStore)], env, 'exporting the CA');
  await keytool(
    ['-genkeypair', '-alias', 'broker', ...key, '-dname', 'CN=localhost', ...store(f.brokerStore)],
    env,
    'making the broker key',
  );
  await keytool(['-certreq', '-alias', 'broker', '-file', f.brokerCsr, ...store(f.brokerStore)], env, 'the broker certificate request');
  await keytool(
    [
      '-gencert',
      '-alias',
      'ca',
      '-infile',
      f.brokerCsr,
      '-outfile',
      f.brokerPem,
      '-rfc',
      '-validity',
      '825',
      '-ext',
      'SAN=dns:localhost,ip:127.0.0.1,ip:::1',
      '-ext',
      'EKU=serverAuth,clientAuth',
      ...store(f.caStore),
    ],
    env,
    'signing the broker certificate',
  );
  await keytool(['-importcert', '-noprompt', '-alias', 'ca', '-file', f.caPem, ...store(f.brokerStore)], env, 'importing the CA');
  await keytool(['-importcert', '-alias', 'broker', '-file', f.brokerPem, ...store(f.brokerStore)], env, 'importing the certificate');
  rmSync(f.brokerCsr, { force: true });
  for (const file of [f.caStore, f.brokerStore]) chmodSync(file, 0o600);
}

/** A JAAS value in double quotes (backslash and quote escaped), as Kafka's JAAS parser reads it. */
function jaasQuoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A value in a Java properties file (backslashes doubled; line breaks cannot occur in our values). */
function propertyValue(value: string): string {
  return value.replace(/\\/g, '\\\\');
}

function brokerSecurity(port: number, credentials: Credentials): BrokerSecurity {
  const f = files(port);
  const jaas =
    'org.apache.kafka.common.security.scram.ScramLoginModule required ' +
    `username=${jaasQuoted(credentials.brokerUsername)} password=${jaasQuoted(credentials.brokerPassword)};`;
  return {
    properties: (brokerPort, controllerPort) => [
      '# kafka:up --secure: the client listener is SASL_SSL (SCRAM-SHA-512); the controller stays on loopback.',
      `listeners=SASL_SSL://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=SASL_SSL://localhost:${brokerPort}`,
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL',
      'inter.broker.listener.name=SASL_SSL',
      'sasl.enabled.mechanisms=SCRAM-SHA-512',
      'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
      `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${propertyValue(jaas)}`,
      'ssl.keystore.type=PKCS12',
      `ssl.keystore.location=${f.brokerStore}`,
      `ssl.keystore.password=${propertyValue(credentials.storePassword)}`,
      `ssl.key.password=${propertyValue(credentials.storePassword)}`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${f.caPem}`,
      'ssl.client.auth=none',
    ],
    formatArgs: [
      '--add-scram',
      `SCRAM-SHA-512=[name=${credentials.username},password=${credentials.password}]`,
      '--add-scram',
      `SCRAM-SHA-512=[name=${credentials.brokerUsername},password=${credentials.brokerPassword}]`,
    ],
    secrets: [credentials.password, credentials.brokerPassword, credentials.storePassword],
  };
}

export interface PreparedSecureBroker {
  security: BrokerSecurity;
  /** What a client of this broker needs, as environment variables (the contents of secure.env). */
  clientEnv: Record<string, string>;
}

/**
 * Makes (first time) or reads the certificates and credentials of the secured broker on this port. A broker
 * folder that already holds a plaintext broker's data is refused: its metadata has no SCRAM users.
 */
export async function prepareSecureBroker(port: number, say: (line: string) => void): Promise<PreparedSecureBroker> {
  const f = files(port);
  let credentials: Credentials;
  if (existsSync(f.credentials)) {
    credentials = JSON.parse(readFileSync(f.credentials, 'utf8')) as Credentials;
  } else {
    if (existsSync(join(instanceDir(port), 'data', 'meta.properties'))) {
      throw new Error(
        `the broker folder for port ${port} holds a plaintext broker's data: ` +
          'run `npm run kafka:down -- --wipe` first, or set KAFKA_PORT to another port for the secured broker',
      );
    }
    mkdirSync(f.dir, { recursive: true, mode: 0o700 });
    credentials = {
      username: SECURE_USERNAME,
      password: secret(),
      brokerUsername: BROKER_USERNAME,
      brokerPassword: secret(),
      storePassword: secret(),
    };
    say('making a CA and a broker certificate for localhost (keytool) and the SCRAM-SHA-512 users…');
    await makeCertificates(port, credentials.storePassword);
    writePrivate(f.credentials, `${JSON.stringify(credentials, null, 2)}\n`);
  }
  return {
    security: brokerSecurity(port, credentials),
    clientEnv: {
      KAFKA_BROKERS: `localhost:${port}`,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: f.caPem,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: credentials.username,
      KAFKA_SASL_PASSWORD: credentials.password,
    },
  };
}

/** Writes the client settings (mode 600) and returns the file's path. */
export function writeSecureEnv(port: number, clientEnv: Record<string, string>): string {
  const file = secureEnvFile(port);
  mkdirSync(KAFKA_HOME, { recursive: true });
  writePrivate(
    file,
    [
      '# Written by `npm run kafka:up -- --secure`: how a client reaches the secured broker. Secret: keep it to yourself.',
      `# Use: set -a; . ${relative(REPO_ROOT, file)}; set +a; npm start`,
      ...Object.entries(clientEnv).map(([name, value]) => `${name}=${value}`),
      '',
    ].join('\n'),
  );
  return file;
}

/** Java client properties for a connection config's TLS and SASL settings (Kafka's tools), or none for plaintext. */
export function clientProperties(connection: KafkaConnectionConfig): string[] | undefined {
  const { ssl, sasl, sslCaFile } = connection;
  if (!ssl && sasl === undefined) return undefined;
  const lines = [`security.protocol=${sasl === undefined ? 'SSL' : ssl ? 'SASL_SSL' : 'SASL_PLAINTEXT'}`];
  if (ssl && sslCaFile !== undefined) lines.push('ssl.truststore.type=PEM', `ssl.truststore.location=${propertyValue(sslCaFile)}`);
  if (sasl !== undefined) {
    const module =
      sasl.mechanism === 'plain'
        ? 'org.apache.kafka.common.security.plain.PlainLoginModule'
        : 'org.apache.kafka.common.security.scram.ScramLoginModule';
    const jaas = `${module} required username=${jaasQuoted(sasl.username)} password=${jaasQuoted(sasl.password)};`;
    lines.push(`sasl.mechanism=${sasl.mechanism.toUpperCase()}`, `sasl.jaas.config=${propertyValue(jaas)}`);
  }
  return lines;
}

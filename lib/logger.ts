/**
 * The one Powertools Logger of the process. Log level from POWERTOOLS_LOG_LEVEL (default INFO), service
 * name from POWERTOOLS_SERVICE_NAME (default kafka-functions), format from LOG_FORMAT (lib/log-format.ts):
 * JSON lines unless stdout is a terminal or LOG_FORMAT=pretty.
 */
import { ConfigError } from './errors';
import { readLogFormat } from './config';
import { KafkaFunctionsLogger, processLogFormatter, type LogFormat } from './log-format';

/**
 * LOG_FORMAT as lib/config.ts reads it. The logger exists as soon as a module imports it, before any program
 * has read its config: a bad value is left to the config (the program stops with the ConfigError naming
 * LOG_FORMAT, as for any variable) and the default format prints meanwhile, rather than an import that throws.
 */
function configuredLogFormat(): LogFormat | undefined {
  try {
    return readLogFormat(process.env);
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}

export const logger = new KafkaFunctionsLogger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'kafka-functions',
  logFormatter: processLogFormatter(configuredLogFormat()),
});

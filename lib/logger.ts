/**
 * The one Powertools Logger of the process. Log level from POWERTOOLS_LOG_LEVEL (default INFO), service
 * name from POWERTOOLS_SERVICE_NAME (default kafka-functions), format from LOG_FORMAT (lib/log-format.ts):
 * JSON lines unless stdout is a terminal or LOG_FORMAT=pretty.
 */
import { KafkaFunctionsLogger, processLogFormatter } from './log-format';

export const logger = new KafkaFunctionsLogger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'kafka-functions',
  logFormatter: processLogFormatter(),
});

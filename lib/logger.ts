/**
 * The one Powertools Logger of the process. Log level from POWERTOOLS_LOG_LEVEL (default INFO),
 * service name from POWERTOOLS_SERVICE_NAME (default kafka-functions). Every line is a JSON object.
 */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'kafka-functions',
});

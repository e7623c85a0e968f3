/**
 * GET /groups/{groupId}[?topic=T]: the consumer group as `npm run inspect-group -- --json` prints it — state,
 * assignment strategy, coordinator, members and what they own, committed offsets, log end offsets and lag.
 * Thin: read the path, describe through lib/inspection, map the result; errors become HTTP in lib/http.ts
 * (404 GROUP_NOT_FOUND for a group the cluster does not know, 503 when Kafka cannot be reached).
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { getConfig } from '../lib/config';
import { ValidationError } from '../lib/errors';
import { failureResponse, jsonResponse } from '../lib/http';
import { describeConsumerGroup } from '../lib/inspection/consumer-group-inspection';
import { getInspectionClients } from '../lib/inspection/inspection-clients';
import { inspectionError } from '../lib/inspection/kafka-errors';
import { logger } from '../lib/logger';
import { isTopicName } from '../lib/validation';

function readRequest(event: APIGatewayProxyEvent): { groupId: string; topic: string | undefined } {
  const groupId = event.pathParameters?.groupId;
  if (groupId === undefined || groupId.trim() === '') throw new ValidationError('a group id is required: GET /groups/{groupId}', 'groupId');
  const topic = event.queryStringParameters?.topic ?? undefined;
  if (topic !== undefined && !isTopicName(topic)) throw new ValidationError(`'${topic}' is not a valid Kafka topic name`, 'topic');
  return { groupId, topic };
}

/** The brokers for an error message; none when the config itself is what failed. */
function configuredBrokers(): string[] {
  try {
    return getConfig().kafka.brokers;
  } catch {
    return [];
  }
}

export async function handler(event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> {
  const correlationId = event.requestContext?.requestId ?? context.awsRequestId;
  const started = Date.now();
  let groupId: string | undefined;
  try {
    const request = readRequest(event);
    groupId = request.groupId;
    const { admin, coordinators } = await getInspectionClients();
    const document = await describeConsumerGroup(admin, request.groupId, { topic: request.topic, coordinators });
    logger.info('group described', {
      correlationId,
      groupId,
      state: document.state,
      members: document.members.length,
      totalLag: document.totalLag,
      durationMs: Date.now() - started,
    });
    return jsonResponse(200, document, { 'x-correlation-id': correlationId });
  } catch (caught: unknown) {
    const error = inspectionError(caught, configuredBrokers());
    return failureResponse(error, {
      action: 'describe group',
      correlationId,
      log: logger,
      fields: { groupId, durationMs: Date.now() - started },
    });
  }
}

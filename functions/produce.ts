/**
 * POST /produce: one record or a batch into a Kafka topic; answers where each record landed.
 * Thin: check access, parse, publish through lib/produce, map the result. Errors become HTTP in
 * lib/http.ts. One log line per request, with API Gateway's request id as correlation id (also returned in the
 * `x-correlation-id` response header, to find the line); no payload.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { getConfig } from '../lib/config';
import { failureResponse, jsonResponse } from '../lib/http';
import { logger } from '../lib/logger';
import { checkApiKey, checkTopicAllowed, parseProduceRequest } from '../lib/produce/produce-request';
import { getPublishDependencies, publish } from '../lib/produce/publish';
import { encodeWithSchemas } from '../lib/produce/schema-encoding';
import { getSchemaSerde } from '../lib/schema-registry/schema-serde';

export async function handler(event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> {
  const correlationId = event.requestContext?.requestId ?? context.awsRequestId;
  const started = Date.now();
  let topic: string | undefined;
  let records: number | undefined;
  try {
    const { defaultTopic, produce } = getConfig();
    checkApiKey(event.headers, produce.apiKey);
    const request = parseProduceRequest(event, { defaultTopic, maxMessages: produce.maxMessages, maxBodyBytes: produce.maxBodyBytes });
    topic = request.topic;
    records = request.records.length;
    checkTopicAllowed(request.topic, produce.allowedTopics);

    const encoded =
      request.valueSubject === undefined && request.keySubject === undefined ? request : await encodeWithSchemas(request, getSchemaSerde());
    const result = await publish(encoded, getPublishDependencies());

    const partitions = [...new Set(result.results.map(({ partition }) => partition))].sort((a, b) => a - b);
    logger.info('produced', { correlationId, topic, records, partitions, durationMs: Date.now() - started });
    return jsonResponse(200, result, { 'x-correlation-id': correlationId });
  } catch (error: unknown) {
    return failureResponse(error, {
      action: 'produce',
      correlationId,
      log: logger,
      fields: { topic, records, durationMs: Date.now() - started },
    });
  }
}

/**
 * GET /cluster/view[?topics=a,b][&groups=g1,g2]: the live page's data (lib/inspection/cluster-watch.ts) —
 * topics' partitions with offsets and records/s, the groups reading them with members, owners, committed
 * offsets and lag, and the timeline of rebalances and moves the process's watcher recorded between polls.
 * Kafka unreachable is a 200 with `kafka.reachable: false` (the page shows a banner and keeps polling);
 * served only under serverless offline (README "See the group").
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { ValidationError } from '../lib/errors';
import { failureResponse, jsonResponse } from '../lib/http';
import { getClusterWatcher } from '../lib/inspection/inspection-clients';
import { logger } from '../lib/logger';
import { offlineOnly } from '../lib/page';
import { isTopicName } from '../lib/validation';

function listParameter(event: APIGatewayProxyEvent, name: string, valid: (item: string) => boolean): string[] | undefined {
  const raw = event.queryStringParameters?.[name];
  if (raw === undefined || raw === null || raw.trim() === '') return undefined;
  const items = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const item of items) if (!valid(item)) throw new ValidationError(`'${item}' is not a valid ${name.slice(0, -1)} name`, name);
  return items;
}

export async function handler(event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> {
  const correlationId = event.requestContext?.requestId ?? context.awsRequestId;
  try {
    offlineOnly();
    const topics = listParameter(event, 'topics', isTopicName);
    const groups = listParameter(event, 'groups', (item) => item.length <= 255);
    const view = await getClusterWatcher().view({ topics, groups });
    return jsonResponse(200, view, { 'cache-control': 'no-store', 'x-correlation-id': correlationId });
  } catch (error) {
    return failureResponse(error, { action: 'view cluster', correlationId, log: logger });
  }
}

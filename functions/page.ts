/**
 * GET /: the live page (page/index.html, one file with its script and styles, no network fetch but its own
 * data endpoint GET /cluster/view and the produce form's POST /produce). Served only under serverless
 * offline (README "See the group").
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { failureResponse } from '../lib/http';
import { logger } from '../lib/logger';
import { offlineOnly, pageHtml } from '../lib/page';

export async function handler(event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> {
  const correlationId = event.requestContext?.requestId ?? context.awsRequestId;
  try {
    offlineOnly();
    return {
      statusCode: 200,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        // Nothing but this page's own inline script, styles and same-origin requests.
        'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:",
      },
      body: pageHtml(),
    };
  } catch (error) {
    return failureResponse(error, { action: 'serve page', correlationId, log: logger });
  }
}

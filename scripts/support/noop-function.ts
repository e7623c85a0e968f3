/** A no-op `http` function: the yardstick for what serverless offline itself costs per request. */
import type { APIGatewayProxyResult } from 'aws-lambda';

export async function handler(): Promise<APIGatewayProxyResult> {
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
}

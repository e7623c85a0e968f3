/**
 * The live page's file and where it is served. The page is a local learning tool: it is served by
 * serverless offline (`npm start`, which sets IS_OFFLINE) and nowhere else, so a deployed stack answers
 * 404 on its routes and shows nobody the cluster's groups.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { NotFoundError } from './errors';

export const PAGE_FILE = resolve(process.cwd(), 'page', 'index.html');

export function offlineOnly(env: NodeJS.ProcessEnv = process.env): void {
  if (env.IS_OFFLINE !== 'true') throw new NotFoundError('the live page is served by serverless offline only (npm start)');
}

let html: string | undefined;

/** page/index.html, read once per process. */
export function pageHtml(): string {
  html ??= readFileSync(PAGE_FILE, 'utf8');
  return html;
}

/**
 * `npm run lint`'s second half: Biome formats to 140 columns but cannot break a long string or comment,
 * so this fails on any tracked source line over 140 characters. JSON fixtures copied from AWS are exempt.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const MAX = 140;
const SOURCES = /\.(ts|js|cjs|mjs|yml|yaml|sh)$|^\.ci\/run$/;
const EXEMPT = /^test\/fixtures\/.*\.json$/;

const files = execFileSync('git', ['ls-files'], { encoding: 'utf8' })
  .split('\n')
  .filter((file) => SOURCES.test(file) && !EXEMPT.test(file));
const long: string[] = [];
for (const file of files) {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    continue; // deleted in the work tree, not yet in the index
  }
  text.split('\n').forEach((line, index) => {
    if ([...line].length > MAX) long.push(`${file}:${index + 1}: ${[...line].length} characters`);
  });
}
if (long.length > 0) {
  process.stderr.write(`lines over ${MAX} characters:\n${long.join('\n')}\n`);
  process.exit(1);
}

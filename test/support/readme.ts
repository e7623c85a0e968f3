/** The README as data: its sections, the commands of their ```sh blocks and the samples beside them. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from './processes';

export interface ReadmeCommand {
  /** As written (continuation lines kept), without its trailing `# …` comment. */
  command: string;
  /** The `# …` comment on the command's own (last) line, if any. */
  comment: string | undefined;
  /** The comment lines that follow it in its block (`#   type lines, Ctrl-D to finish`). */
  notes: string[];
  /** From a `# with VAR=value npm start` line above it in its block: how the README's `npm start` runs. */
  env: Record<string, string>;
  /** A `# {…}` line right after it: what the README says it prints. */
  expected: string | undefined;
}

export function readme(): string {
  return readFileSync(resolve(REPO_ROOT, 'README.md'), 'utf8');
}

/** The section under the heading that starts with `heading` (`## Produce`), up to the next heading of its level or above. */
export function readmeSection(heading: string): string {
  const lines = readme().split('\n');
  const level = heading.indexOf(' ');
  const start = lines.findIndex((line) => line.startsWith(heading));
  if (start < 0) throw new Error(`README has no "${heading}" heading`);
  let fenced = false;
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i += 1) {
    const line = lines[i] ?? '';
    if (line.startsWith('```')) fenced = !fenced;
    const hashes = line.match(/^(#+) /)?.[1]?.length;
    if (!fenced && hashes !== undefined && hashes <= level) {
      end = i;
      break;
    }
  }
  return lines.slice(start, end).join('\n');
}

/** Splits `command   # comment` on the comment that is not inside quotes. */
function splitComment(line: string): [string, string | undefined] {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i += 1) {
    const char = line[i];
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
    } else if (char === "'" || char === '"') {
      quote = char;
    } else if (char === '#' && /\s/.test(line[i - 1] ?? '')) {
      return [line.slice(0, i).trimEnd(), line.slice(i + 1).trim()];
    }
  }
  return [line.trimEnd(), undefined];
}

/** The commands of the section's ```sh blocks, in order. */
export function shellCommands(section: string): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  for (const block of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = (block[1] ?? '').split('\n');
    let env: Record<string, string> = {};
    let last: ReadmeCommand | undefined;
    for (let i = 0; i < lines.length; i += 1) {
      const line = lines[i] ?? '';
      if (line.trim() === '') {
        last = undefined;
        continue;
      }
      if (line.trimStart().startsWith('#')) {
        const text = line.trimStart().slice(1).trim();
        const withEnv = text.match(/^with ((?:[A-Z_]+=\S+ )+)npm start$/);
        if (withEnv?.[1] !== undefined) {
          env = Object.fromEntries(
            withEnv[1]
              .trim()
              .split(' ')
              .map((pair) => pair.split('=') as [string, string]),
          );
        } else if (last !== undefined && text.startsWith('{') && last.expected === undefined && last.notes.length === 0) {
          last.expected = text;
        } else if (last !== undefined) {
          last.notes.push(text);
        }
        continue;
      }
      let command = line;
      // A command goes on while a line ends with `\` or a -d '…' quote is still open.
      while (command.endsWith('\\') || (splitComment(command)[0].split("'").length - 1) % 2 === 1) {
        i += 1;
        if (i >= lines.length) break;
        command += `\n${lines[i] ?? ''}`;
      }
      const [text, comment] = splitComment(command);
      last = { command: text, comment, notes: [], env, expected: undefined };
      commands.push(last);
    }
  }
  return commands;
}

/** The section's fenced blocks of one language ('' for the bare ``` blocks: what a terminal shows), in order. */
export function fencedBlocks(section: string, language = ''): string[] {
  return [...section.matchAll(/```([a-z]*)\n([\s\S]*?)```/g)]
    .filter((match) => match[1] === language)
    .map((match) => (match[2] ?? '').replace(/\n$/, ''));
}

/** The benchmarks' result tables: aligned plain text, one row per measurement. */
export type Row = [name: string, value: string, note: string];

export function printTable(title: string, rows: Row[], say: (line: string) => void = console.log): void {
  const nameWidth = Math.max(...rows.map(([name]) => name.length));
  const valueWidth = Math.max(...rows.map(([, value]) => value.length));
  say('');
  say(title);
  for (const [name, value, note] of rows) say(`  ${name.padEnd(nameWidth)}  ${value.padStart(valueWidth)}  ${note}`.trimEnd());
}

/**
 * `npm run demo` end to end, as a user runs it: against the suite's broker (KAFKA_BROKERS, so kafka:up checks
 * it and starts nothing), three real `npm run consume` children, a graceful stop and a SIGKILL. It exits 0,
 * reports each move with its time, and leaves none of its processes; a Ctrl-C in the middle cleans up too.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runCommand, startProcess } from './support/processes';

/** Command lines of running processes that mention the demo's group (its members carry it in their arguments). */
function processesOf(groupId: string): string[] {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(groupId));
}

function groupOf(output: string): string {
  const match = /members of group (my-app3-demo-\d+)/.exec(output);
  if (match?.[1] === undefined) throw new Error(`the demo named no group:\n${output}`);
  return match[1];
}

describe('npm run demo', () => {
  it('plays the story to the end: exit 0, both moves reported with their times, no process left', async () => {
    const run = await runCommand('npm', ['run', '-s', 'demo'], { timeoutMs: 300_000 });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('http://localhost:3000/');
    expect(run.stdout).toMatch(/the group is Stable, one partition each/);
    expect(run.stdout).toMatch(/produced 6 events keyed user1, user2, user3, user4, user5, user6/);
    expect(run.stdout).toMatch(/payment-done-\d: [A-Z] → [A-Z] \d+\.\d s after the Ctrl-C/);
    expect(run.stdout).toMatch(/payment-done-\d: [A-Z] → [A-Z] \d+\.\d s after the SIGKILL/);
    expect(run.stdout).toMatch(/done in \d+\.\d s; no member left running/);
    expect(processesOf(groupOf(run.stdout))).toEqual([]);
  }, 320_000);

  it('stops every member it started when Ctrl-C comes in the middle', async () => {
    const demo = startProcess('npm', ['run', '-s', 'demo']);
    await demo.waitForOutput(/three members of group my-app3-demo-\d+/, 120_000);
    const groupId = groupOf(demo.stdout());
    // The members have been started; Ctrl-C reaches the whole process group, as from a terminal.
    await demo.waitForOutput(/the group is Stable|gave up/, 180_000);
    const code = await demo.stop('SIGINT', 60_000);
    expect([130, 'SIGINT']).toContain(code);
    expect(demo.stdout()).toContain('Ctrl-C: stopping the members');
    expect(processesOf(groupId)).toEqual([]);
  }, 320_000);
});

/**
 * `npm run consume` prints the pid of the member process (npm's own pid is another one): the pid the
 * README tells a reader to `kill -9` to see a member die without leaving the group.
 */
import { describe, expect, it } from 'vitest';
import { createTopic, uniqueName } from './support/kafka';
import { logLines, startConsumeCli } from './support/consume';
import { waitFor } from './support/wait';

describe('consume: the member process pid', () => {
  it('is logged when the member starts, is not npm’s, and kill -9 of it ends the member without a goodbye', async () => {
    // Prepare
    const topic = await createTopic(uniqueName('consume-pid'), 1);
    const member = startConsumeCli('pid', topic, uniqueName('group-pid'));
    await member.process.waitForOutput(/"message":"group joined"/, 60_000);
    const started = logLines(member).find((line) => line.message === 'member process started');
    const pid = Number(started?.pid);
    expect(started).toMatchObject({ topic });
    expect(Number.isInteger(pid) && pid > 0).toBe(true);
    expect(pid).not.toBe(member.process.child.pid);

    // Act
    process.kill(pid, 'SIGKILL');

    // Assess: npm ends once its child is gone; the member never said goodbye to the group.
    await member.process.exited;
    await waitFor(`pid ${pid} gone`, () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    expect(member.process.output()).not.toMatch(/"message":"group left"/);
  });
});

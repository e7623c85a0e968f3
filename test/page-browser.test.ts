/**
 * The live page in a real browser (Debian's chromium through playwright-core) against the real
 * `serverless offline start` and real `npm run consume` members: three members with one partition each, the
 * move after a member's Ctrl-C with the owners Kafka's own kafka-consumer-groups reports, lag rising with no
 * member and falling when one joins, the produce form, and the broker-down banner appearing and clearing.
 * Screenshots of each state: test-artifacts/page/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openBrowser, screenshot, type Browser } from './support/browser';
import { startConsumeCli, type Member } from './support/consume';
import { freePort } from './support/free-port';
import { kafkaConsumerGroups } from './support/group-members';
import { createTopic, sendRecords, testBrokers, uniqueName } from './support/kafka';
import { startOffline, type Offline } from './support/offline';
import { startTcpProxy } from './support/offline-kafka';
import { waitFor } from './support/wait';

interface PageState {
  banner: boolean;
  state: string | null;
  members: Array<{ memberId: string; label: string }>;
  partitions: Array<{ partition: number; ownerMember: string; owner: string; lag: number; lagFrom: string }>;
  moves: Array<{ partition: string; from: string; to: string; at: number }>;
  totalLag: number | null;
}

// Read in the page: what a person sees, by the data attributes the page puts on it.
const READ_STATE = `(({ group, topic }) => {
  const groupNode = document.querySelector('[data-testid=group][data-group="' + group + '"]');
  const all = (selector) => [...document.querySelectorAll(selector)];
  return {
    banner: document.querySelector('[data-testid=kafka-banner]').classList.contains('shown'),
    state: groupNode ? groupNode.dataset.state : null,
    members: groupNode
      ? [...groupNode.querySelectorAll('[data-testid=member]')]
          .map((node) => ({ memberId: node.dataset.memberId, label: node.dataset.label }))
      : [],
    partitions: all('[data-testid=partition][data-group="' + group + '"][data-topic="' + topic + '"]').map((node) => ({
      partition: Number(node.dataset.partition), ownerMember: node.dataset.ownerMember, owner: node.dataset.owner,
      lag: Number(node.dataset.lag), lagFrom: node.dataset.lagFrom })),
    moves: all('[data-testid=move][data-group="' + group + '"]').map((node) => ({
      partition: node.dataset.partition, from: node.dataset.from, to: node.dataset.to, at: Number(node.dataset.at) })),
    totalLag: groupNode ? Number(groupNode.querySelector('[data-testid=total-lag]').textContent) : null,
  };
})`;

async function pageState(page: Page, group: string, topic: string): Promise<PageState> {
  return (await page.evaluate(`${READ_STATE}(${JSON.stringify({ group, topic })})`)) as PageState;
}

/** partition → consumer id, from Kafka's own `kafka-consumer-groups --describe`. */
async function ownersByKafka(group: string): Promise<Map<number, string>> {
  const result = await kafkaConsumerGroups(testBrokers(), ['--describe', '--group', group]);
  const owners = new Map<number, string>();
  for (const line of result.stdout.split('\n')) {
    const columns = line.trim().split(/\s+/);
    if (columns[0] !== group || columns.length < 9) continue;
    owners.set(Number(columns[2]), columns[6] ?? '-');
  }
  return owners;
}

function ownersOnPage(state: PageState): Map<number, string> {
  return new Map(state.partitions.map((row) => [row.partition, row.ownerMember === '' ? '-' : row.ownerMember]));
}

describe('the live page', () => {
  let offline: Offline;
  let browser: Browser;
  const members: Member[] = [];
  const topic = uniqueName('page');
  const group = uniqueName('page-group');

  beforeAll(async () => {
    await createTopic(topic, 3);
    offline = await startOffline();
    browser = await openBrowser();
  }, 180_000);

  afterAll(async () => {
    await Promise.all(members.map((member) => member.process.stop('SIGKILL')));
    await browser?.close();
    await offline?.stop();
  });

  it('shows three members with one partition each, then the move within 2 s of a Ctrl-C, with the owners Kafka reports', async () => {
    const { page } = browser;
    await page.goto(`${offline.baseUrl}/?topics=${topic}&groups=${group}`);
    for (const name of ['m1', 'm2', 'm3']) members.push(startConsumeCli(name, topic, group));

    const three = await waitFor(
      'three members owning one partition each on the page',
      async () => {
        const state = await pageState(page, group, topic);
        const owners = state.partitions.map((row) => row.ownerMember);
        return state.state === 'Stable' && state.members.length === 3 && owners.length === 3 && new Set(owners).size === 3 && state;
      },
      120_000,
    );
    expect(ownersOnPage(three)).toEqual(await ownersByKafka(group));
    await screenshot(page, 'page', '1-three-members');

    // Ctrl-C the member that owns partition 1.
    const leaving = three.partitions.find((row) => row.partition === 1);
    const leavingLabel = leaving?.owner;
    const stopped = await waitFor('the member of partition 1', () => {
      for (const member of members) {
        if (member.process.output().includes(leaving?.ownerMember ?? 'none')) return member;
      }
      return undefined;
    });
    const pressed = Date.now();
    // npm passes the member's Ctrl-C on and reports it as its own exit (README: "npm may still report the interrupted run").
    const exit = stopped.process.stop('SIGINT');
    const moved = await waitFor(
      'partition 1 moved on the page to a member that stayed',
      async () => {
        const state = await pageState(page, group, topic);
        const move = state.moves.find(
          (entry) => entry.partition === `${topic}-1` && entry.from === leavingLabel && entry.to !== leavingLabel,
        );
        const owners = state.partitions.map((row) => row.ownerMember);
        const settled =
          state.state === 'Stable' && state.members.length === 2 && owners.every((owner) => owner !== '' && owner !== leaving?.ownerMember);
        return move !== undefined && settled && { state, move };
      },
      30_000,
    );
    await exit;
    expect(stopped.process.output()).toMatch(/"message":"group left"[^\n]*"stoppedBecause":"stopped"/);
    // The server recorded the move (checked every 250 ms) within 2 s of the Ctrl-C.
    expect(moved.move.at - pressed).toBeLessThanOrEqual(2_000);
    // Kafka's tool asks at its own moment (and prints no rows while a rebalance runs): both are read until they agree.
    const agreed = await waitFor(
      'the page and kafka-consumer-groups to show the same owners',
      async () => {
        const [onPage, byKafka] = [ownersOnPage(await pageState(page, group, topic)), await ownersByKafka(group)];
        return byKafka.size === 3 && JSON.stringify([...onPage].sort()) === JSON.stringify([...byKafka].sort()) && { onPage, byKafka };
      },
      60_000,
    );
    expect(agreed.onPage).toEqual(agreed.byKafka);
    expect([...agreed.byKafka.values()]).not.toContain(leaving?.ownerMember);
    await screenshot(page, 'page', '2-after-ctrl-c');
  }, 240_000);

  it('shows lag rising while the group has no member and falling when one joins', async () => {
    const { page } = browser;
    await Promise.all(members.splice(0).map((member) => member.process.stop('SIGINT')));
    await waitFor('the group to be Empty on the page', async () => (await pageState(page, group, topic)).state === 'Empty', 60_000);
    const before = (await pageState(page, group, topic)).totalLag ?? 0;
    await sendRecords(
      topic,
      Array.from({ length: 30 }, (_, index) => ({ key: `user${index % 9}`, value: `paid ${index}` })),
    );
    const risen = await waitFor(
      'lag up by 30',
      async () => {
        const state = await pageState(page, group, topic);
        return (state.totalLag ?? 0) >= before + 30 && state;
      },
      30_000,
    );
    expect(risen.partitions.reduce((sum, row) => sum + row.lag, 0)).toBe(risen.totalLag);
    await screenshot(page, 'page', '3-lag-rising');

    members.push(startConsumeCli('m4', topic, group));
    const fallen = await waitFor(
      'lag back to 0 with one member',
      async () => {
        const state = await pageState(page, group, topic);
        return state.totalLag === 0 && state.members.length === 1 && state;
      },
      90_000,
    );
    expect(new Set(fallen.partitions.map((row) => row.ownerMember)).size).toBe(1);
    await screenshot(page, 'page', '4-lag-fallen');
  }, 180_000);

  it("lands user1 on partition 0 of payment-done through the page's produce form", async () => {
    const { page } = browser;
    await page.goto(`${offline.baseUrl}/?topics=payment-done,${topic}`);
    await page.waitForSelector('#produce-topic option[value="payment-done"]', { state: 'attached', timeout: 60_000 });
    await page.selectOption('#produce-topic', 'payment-done');
    await page.fill('#produce-key', 'user1');
    await page.fill('#produce-value', 'paid 10');
    await page.fill('#produce-count', '2');
    await page.click('#produce-send');
    await page.waitForSelector('[data-testid=produce-result]', { timeout: 30_000 });
    const results = (await page.evaluate(
      `[...document.querySelectorAll('[data-testid=produce-result]')]
        .map((node) => ({ topic: node.dataset.topic, key: node.dataset.key, partition: Number(node.dataset.partition) }))`,
    )) as Array<{ topic: string; key: string; partition: number }>;
    expect(results).toEqual([
      { topic: 'payment-done', key: 'user1', partition: 0 },
      { topic: 'payment-done', key: 'user1', partition: 0 },
    ]);
    await screenshot(page, 'page', '5-produce-form');
  }, 60_000);

  it('shows a banner while Kafka cannot be reached and clears it by itself when Kafka answers', async () => {
    const port = await freePort();
    const unreachable = await startOffline({ env: { KAFKA_BROKERS: `localhost:${port}` }, readyTimeoutMs: 180_000 });
    let proxy: { close: () => Promise<void> } | undefined;
    try {
      const { page } = browser;
      await page.goto(`${unreachable.baseUrl}/?topics=${topic}&groups=${group}`);
      await waitFor('the banner', async () => (await pageState(page, group, topic)).banner, 60_000);
      expect(await page.textContent('[data-testid=kafka-banner]')).toContain('Kafka is not reachable');
      await screenshot(page, 'page', '6-broker-down');

      proxy = await startTcpProxy(port, testBrokers()[0] ?? 'localhost:9092');
      const back = await waitFor(
        'the banner to clear and the group to show',
        async () => {
          const state = await pageState(page, group, topic);
          return !state.banner && state.partitions.length === 3 && state;
        },
        60_000,
      );
      expect(back.state).not.toBeNull();
      await screenshot(page, 'page', '7-broker-back');
    } finally {
      await proxy?.close();
      await unreachable.stop();
    }
  }, 360_000);
});

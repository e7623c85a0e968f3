/**
 * What the live page shows (GET /cluster/view): topics as lanes of partitions with offsets and records/s,
 * the consumer groups reading them with members, owners, committed offsets and lag, and a timeline of
 * rebalances and partition moves.
 *
 * Moves are tracked here, between the page's polls: a ClusterWatcher (one per process) asks the cluster for
 * the groups' assignments every 250 ms with one DescribeGroups request, compares each answer with the last,
 * and records every owner change with its time and how long the partition had no owner (from the last
 * answer that showed the old owner to the first that shows the new one, so within one interval). The page
 * polls once a second and gets the whole timeline, so a move that lasts less than its refresh interval is
 * still shown. The watcher stops polling a minute after the last page request and starts again with the
 * next one (the timeline is kept, and says when it was not watching).
 */
import { AssignerProtocol, type Admin, type GroupDescription } from 'kafkajs';
import { errorMessage } from '../errors';
import { describeConsumerGroup, type ConsumerGroupDocument } from './consumer-group-inspection';
import { isUnreachable } from '../kafka/errors';
import { describeTopic, type TopicDescription } from './topic-inspection';

export const WATCH_INTERVAL_MS = 250;
const IDLE_STOP_MS = 60_000;
const TIMELINE_LIMIT = 200;
/** The tutorial's topics, shown when the page names none. */
export const DEFAULT_TOPICS = ['payment-done', 'quickstart-events'];

export type TimelineEntry =
  | { kind: 'move'; at: number; groupId: string; partition: string; from: string | null; to: string | null; unownedMs: number | null }
  | { kind: 'state'; at: number; groupId: string; from: string | null; to: string }
  | { kind: 'member'; at: number; groupId: string; label: string; memberId: string; change: 'joined' | 'left' }
  | { kind: 'watch'; at: number; change: 'started' | 'stopped' | 'kafka-unreachable' | 'kafka-reachable'; detail?: string };

export interface ViewMember {
  memberId: string;
  /** A, B, C…: stable for a member as long as it is in the group; the page gives each label a colour. */
  label: string;
  clientId: string;
  host: string;
  assignment: Record<string, number[]>;
}

export interface ViewPartitionOffsets {
  partition: number;
  /** The owner's label; null when nobody owns it. */
  owner: string | null;
  committedOffset: string | null;
  /** Log end − committed; with no commit, log end − log start (what the group would read from the beginning). */
  lag: string;
  lagFrom: 'committed' | 'log-start';
}

export interface ViewGroup {
  groupId: string;
  state: string;
  protocol: string | null;
  members: ViewMember[];
  /** topic → partitions, for the topics shown that the group reads (owns or has committed). */
  topics: Record<string, ViewPartitionOffsets[]>;
  totalLag: string;
}

export interface ViewTopic {
  topic: string;
  partitions: Array<{ partition: number; logStartOffset: string; logEndOffset: string; recordsPerSecond: number | null }>;
}

export interface ClusterView {
  at: number;
  kafka: { reachable: true } | { reachable: false; error: string; since: number };
  topics: ViewTopic[];
  /** Topics the cluster has, for the page's picker (internal ones left out). */
  availableTopics: string[];
  groups: ViewGroup[];
  missingTopics: string[];
  timeline: TimelineEntry[];
  watchIntervalMs: number;
}

export interface ViewRequest {
  topics?: string[];
  groups?: string[];
}

interface GroupSnapshot {
  state: string;
  owners: Map<string, string | null>;
  members: Map<string, { clientId: string; host: string }>;
}

const isInternalTopic = (topic: string) => topic.startsWith('__');
const isInternalGroup = (groupId: string, protocolType: string) =>
  groupId.startsWith('__') || (protocolType !== 'consumer' && protocolType !== '');

/** `topic-partition` → owning memberId, from a DescribeGroups answer (the consumer protocol's assignment). */
function ownersOf(group: GroupDescription): Map<string, string | null> {
  const owners = new Map<string, string | null>();
  if (group.protocolType !== 'consumer') return owners;
  for (const member of group.members) {
    if (member.memberAssignment.length === 0) continue;
    const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
    for (const [topic, partitions] of Object.entries(decoded?.assignment ?? {})) {
      for (const partition of partitions) owners.set(`${topic}-${partition}`, member.memberId);
    }
  }
  return owners;
}

export class ClusterWatcher {
  readonly #admin: Admin;
  readonly #now: () => number;
  readonly #timeline: TimelineEntry[] = [];
  readonly #snapshots = new Map<string, GroupSnapshot>();
  /** groupId → memberId → label. */
  readonly #labels = new Map<string, Map<string, string>>();
  readonly #lastSeenOwner = new Map<string, { owner: string; at: number }>();
  /** groupId → topics its members were seen owning: still shown after they left without committing. */
  readonly #seenTopics = new Map<string, Set<string>>();
  #groups: string[] | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastRequest = 0;
  #polling = false;
  #outage: { since: number; error: string } | undefined;
  #lastEnds = new Map<string, { at: number; offset: bigint }>();
  #rates = new Map<string, number>();
  readonly #onOutage: (change: 'down' | 'up', detail: string) => void;

  constructor(admin: Admin, options: { now?: () => number; onOutage?: (change: 'down' | 'up', detail: string) => void } = {}) {
    this.#admin = admin;
    this.#now = options.now ?? Date.now;
    this.#onOutage = options.onOutage ?? (() => undefined);
  }

  /** Stops polling (tests; a process that ends). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #record(entry: TimelineEntry): void {
    this.#timeline.push(entry);
    if (this.#timeline.length > TIMELINE_LIMIT) this.#timeline.splice(0, this.#timeline.length - TIMELINE_LIMIT);
  }

  #labelOf(groupId: string, memberId: string): string {
    let labels = this.#labels.get(groupId);
    if (labels === undefined) {
      labels = new Map();
      this.#labels.set(groupId, labels);
    }
    const known = labels.get(memberId);
    if (known !== undefined) return known;
    // The first letter no current member of the group holds: A, B, C…, then A2, B2…
    const taken = new Set(labels.values());
    for (let round = 1; ; round += 1) {
      for (const letter of 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') {
        const label = round === 1 ? letter : `${letter}${round}`;
        if (!taken.has(label)) {
          labels.set(memberId, label);
          return label;
        }
      }
    }
  }

  #ensureWatching(): void {
    this.#lastRequest = this.#now();
    if (this.#timer !== undefined) return;
    this.#record({ kind: 'watch', at: this.#now(), change: 'started' });
    this.#timer = setInterval(() => void this.#poll(), WATCH_INTERVAL_MS);
    this.#timer.unref();
  }

  async #groupIds(): Promise<string[]> {
    if (this.#groups !== undefined) return this.#groups;
    const { groups } = await this.#admin.listGroups();
    return groups
      .filter((group) => !isInternalGroup(group.groupId, group.protocolType))
      .map((group) => group.groupId)
      .sort();
  }

  /** One DescribeGroups round: records member, state and owner changes. */
  async #poll(): Promise<void> {
    if (this.#polling) return;
    if (this.#now() - this.#lastRequest > IDLE_STOP_MS) {
      this.stop();
      this.#record({ kind: 'watch', at: this.#now(), change: 'stopped', detail: 'no page asked for a minute' });
      return;
    }
    this.#polling = true;
    try {
      const ids = await this.#groupIds();
      const { groups } = ids.length === 0 ? { groups: [] } : await this.#admin.describeGroups(ids);
      this.#observe(groups, this.#now());
      this.#reachable();
    } catch (error) {
      this.#unreachable(error);
    } finally {
      this.#polling = false;
    }
  }

  #reachable(): void {
    if (this.#outage === undefined) return;
    const downMs = this.#now() - this.#outage.since;
    this.#record({ kind: 'watch', at: this.#now(), change: 'kafka-reachable', detail: `after ${downMs} ms` });
    this.#onOutage('up', `after ${downMs} ms`);
    this.#outage = undefined;
  }

  #unreachable(error: unknown): void {
    // Anything else (a group deleted meanwhile, a protocol hiccup) is not an outage: the next poll tries again.
    if (!isUnreachable(error) || this.#outage !== undefined) return;
    this.#outage = { since: this.#now(), error: errorMessage(error) };
    this.#record({ kind: 'watch', at: this.#now(), change: 'kafka-unreachable', detail: errorMessage(error) });
    this.#onOutage('down', errorMessage(error));
    void this.#admin.connect().catch(() => undefined);
  }

  #observe(groups: GroupDescription[], at: number): void {
    for (const group of groups) {
      const { groupId } = group;
      if (group.state === 'Dead') continue;
      const previous = this.#snapshots.get(groupId);
      const owners = ownersOf(group);
      const members = new Map(group.members.map((member) => [member.memberId, { clientId: member.clientId, host: member.clientHost }]));
      if (previous !== undefined && previous.state !== group.state) {
        this.#record({ kind: 'state', at, groupId, from: previous.state, to: group.state });
      } else if (previous === undefined) {
        this.#record({ kind: 'state', at, groupId, from: null, to: group.state });
      }
      for (const memberId of members.keys()) {
        if (previous?.members.has(memberId) !== true) {
          this.#record({ kind: 'member', at, groupId, memberId, label: this.#labelOf(groupId, memberId), change: 'joined' });
        }
      }
      for (const memberId of previous?.members.keys() ?? []) {
        if (!members.has(memberId)) {
          this.#record({ kind: 'member', at, groupId, memberId, label: this.#labelOf(groupId, memberId), change: 'left' });
          this.#labels.get(groupId)?.delete(memberId);
        }
      }
      if (previous !== undefined) this.#recordMoves(groupId, previous.owners, owners, at);
      for (const [partition, owner] of owners) {
        if (owner !== null) this.#lastSeenOwner.set(`${groupId}\u0000${partition}`, { owner, at });
      }
      for (const member of group.members) {
        if (member.memberAssignment.length === 0 || group.protocolType !== 'consumer') continue;
        const topics = Object.keys(AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment ?? {});
        const seen = this.#seenTopics.get(groupId) ?? new Set<string>();
        for (const topic of topics) seen.add(topic);
        this.#seenTopics.set(groupId, seen);
      }
      this.#snapshots.set(groupId, { state: group.state, owners, members });
    }
  }

  /**
   * A move is recorded when a partition gets an owner other than its last one; one that loses its owner is
   * recorded when the group is settled without it (Empty, or Stable with nobody owning it). While a rebalance
   * runs the broker reports no assignment, which is the partition's time with no owner.
   */
  #recordMoves(groupId: string, before: Map<string, string | null>, after: Map<string, string | null>, at: number): void {
    const names = new Set([...before.keys(), ...after.keys()]);
    for (const partition of names) {
      const to = after.get(partition) ?? null;
      const last = this.#lastSeenOwner.get(`${groupId}\u0000${partition}`);
      if (to === null || last === undefined || last.owner === to) continue;
      const labels = this.#labels.get(groupId);
      this.#record({
        kind: 'move',
        at,
        groupId,
        partition,
        from: labels?.get(last.owner) ?? this.#labelOfGone(last.owner),
        to: this.#labelOf(groupId, to),
        unownedMs: before.get(partition) === last.owner ? 0 : at - last.at,
      });
    }
  }

  /** A member that already left: its label as the timeline's "left" entry gave it. */
  #labelOfGone(memberId: string): string {
    for (let index = this.#timeline.length - 1; index >= 0; index -= 1) {
      const entry = this.#timeline[index];
      if (entry?.kind === 'member' && entry.memberId === memberId) return entry.label;
    }
    return memberId;
  }

  /** The page's data: a full description of the topics and groups asked for, and the timeline so far. */
  async view(request: ViewRequest = {}): Promise<ClusterView> {
    this.#groups = request.groups !== undefined && request.groups.length > 0 ? [...request.groups].sort() : undefined;
    this.#ensureWatching();
    const at = this.#now();
    try {
      await this.#admin.connect();
      const available = (await this.#admin.listTopics()).filter((topic) => !isInternalTopic(topic)).sort();
      const wanted = request.topics !== undefined && request.topics.length > 0 ? request.topics : DEFAULT_TOPICS;
      const present = wanted.filter((topic) => available.includes(topic));
      const missingTopics = wanted.filter((topic) => !available.includes(topic));
      // One after the other: kafkajs 2.2.4's fetchTopicOffsets can fail when calls for one topic overlap.
      const topics: TopicDescription[] = [];
      for (const topic of present) topics.push(await describeTopic(this.#admin, topic));
      const documents: ConsumerGroupDocument[] = [];
      for (const groupId of await this.#groupIds()) {
        try {
          documents.push(await describeConsumerGroup(this.#admin, groupId));
        } catch (error) {
          // A group deleted or emptied away meanwhile is simply not shown; an outage is.
          if (isUnreachable(error)) throw error;
        }
      }
      // Owners as of now, so the page and the timeline agree.
      await this.#poll();
      this.#reachable();
      const groups = documents
        .map((document) => this.#viewGroup(document, topics, this.#groups !== undefined))
        .filter((group) => this.#groups !== undefined || Object.keys(group.topics).length > 0 || group.members.length > 0);
      return {
        at,
        kafka: { reachable: true },
        topics: topics.map((topic) => this.#viewTopic(topic, at)),
        availableTopics: available,
        groups,
        missingTopics,
        timeline: [...this.#timeline],
        watchIntervalMs: WATCH_INTERVAL_MS,
      };
    } catch (error) {
      if (!isUnreachable(error)) throw error;
      this.#unreachable(error);
      const since = this.#outage?.since ?? at;
      return {
        at,
        kafka: { reachable: false, error: errorMessage(error), since },
        topics: [],
        availableTopics: [],
        groups: [],
        missingTopics: [],
        timeline: [...this.#timeline],
        watchIntervalMs: WATCH_INTERVAL_MS,
      };
    }
  }

  #viewTopic(topic: TopicDescription, at: number): ViewTopic {
    return {
      topic: topic.topic,
      partitions: topic.partitions.map((partition) => {
        const key = `${topic.topic}-${partition.partition}`;
        const end = BigInt(partition.latestOffset);
        const last = this.#lastEnds.get(key);
        if (last !== undefined && at - last.at >= 500) {
          this.#rates.set(key, Math.max(0, (Number(end - last.offset) * 1000) / (at - last.at)));
          this.#lastEnds.set(key, { at, offset: end });
        } else if (last === undefined) {
          this.#lastEnds.set(key, { at, offset: end });
        }
        return {
          partition: partition.partition,
          logStartOffset: partition.earliestOffset,
          logEndOffset: partition.latestOffset,
          recordsPerSecond: this.#rates.get(key) ?? null,
        };
      }),
    };
  }

  /**
   * A group reads a topic when it owns or has committed partitions of it, or was seen owning some; a group the
   * page named (?groups=) is shown on every topic shown, with lag from the log start where it has no commit.
   */
  #viewGroup(document: ConsumerGroupDocument, topics: TopicDescription[], named: boolean): ViewGroup {
    const { groupId } = document;
    const members = document.members.map((member) => ({
      memberId: member.memberId,
      label: this.#labelOf(groupId, member.memberId),
      clientId: member.clientId,
      host: member.host,
      assignment: member.assignment,
    }));
    const labelOfMember = new Map(members.map((member) => [member.memberId, member.label]));
    const result: Record<string, ViewPartitionOffsets[]> = {};
    let total = 0n;
    for (const topic of topics) {
      const rows = document.partitions.filter((row) => row.topic === topic.topic);
      const reads =
        named ||
        rows.length > 0 ||
        this.#seenTopics.get(groupId)?.has(topic.topic) === true ||
        members.some((member) => (member.assignment[topic.topic]?.length ?? 0) > 0);
      if (!reads) continue;
      result[topic.topic] = topic.partitions.map((partition) => {
        const row = rows.find((candidate) => candidate.partition === partition.partition);
        const committed = row?.currentOffset ?? null;
        const end = BigInt(partition.latestOffset);
        const lag = committed === null ? end - BigInt(partition.earliestOffset) : end - BigInt(committed);
        total += lag;
        return {
          partition: partition.partition,
          owner: row?.memberId === null || row?.memberId === undefined ? null : (labelOfMember.get(row.memberId) ?? null),
          committedOffset: committed,
          lag: lag.toString(),
          lagFrom: committed === null ? 'log-start' : 'committed',
        };
      });
    }
    return { groupId, state: document.state, protocol: document.protocol, members, topics: result, totalLag: total.toString() };
  }
}

/** Lambda's event-filtering rules on a Kafka record's value, as the offline-kafka plugin applies them. */
import { describe, expect, it } from 'vitest';
import { compileFilterPatterns, FilterPatternError } from '../plugins/offline-kafka/src/filter-patterns';

const record = (value: unknown) => ({
  value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64'),
});

function matching(patterns: unknown[], values: unknown[]): unknown[] {
  const filter = compileFilterPatterns(patterns);
  return values.filter((value) => filter.matches(record(value)));
}

describe('filterPatterns on a Kafka record value', () => {
  it('matches JSON fields with equals, prefix, suffix, equals-ignore-case and nested objects', () => {
    expect(matching([{ value: { device: ['AB1'] } }], [{ device: 'AB1' }, { device: 'AB2' }, 'AB1'])).toEqual([{ device: 'AB1' }]);
    expect(matching([{ value: { device: [{ prefix: 'AB' }] } }], [{ device: 'AB9' }, { device: 'XAB' }])).toEqual([{ device: 'AB9' }]);
    expect(matching([{ value: { device: [{ suffix: '9' }] } }], [{ device: 'AB9' }, { device: 'AB1' }])).toEqual([{ device: 'AB9' }]);
    expect(matching([{ value: { state: [{ 'equals-ignore-case': 'paid' }] } }], [{ state: 'PAID' }, { state: 'due' }])).toEqual([
      { state: 'PAID' },
    ]);
    expect(
      matching(
        [{ value: { session: { duration: [162] } } }],
        [{ session: { duration: 162 } }, { session: { duration: 1 } }, { duration: 162 }],
      ),
    ).toEqual([{ session: { duration: 162 } }]);
  });

  it('compares numbers with numeric ranges and tells null, empty and missing fields apart', () => {
    const values = [{ amount: 5 }, { amount: 100 }, { amount: 150 }, { amount: '150' }, {}];
    expect(matching([{ value: { amount: [{ numeric: ['>', 10, '<=', 150] }] } }], values)).toEqual([{ amount: 100 }, { amount: 150 }]);
    expect(matching([{ value: { note: [null] } }], [{ note: null }, { note: '' }, {}])).toEqual([{ note: null }]);
    expect(matching([{ value: { note: [''] } }], [{ note: null }, { note: '' }, {}])).toEqual([{ note: '' }]);
    expect(matching([{ value: { note: [{ exists: false }] } }], [{ note: null }, {}])).toEqual([{}]);
    expect(matching([{ value: { note: [{ exists: true }] } }], [{ note: null }, {}])).toEqual([{ note: null }]);
  });

  it('applies anything-but to values, lists and prefixes, never to a missing field', () => {
    expect(matching([{ value: { state: [{ 'anything-but': ['failed', 'void'] }] } }], [{ state: 'paid' }, { state: 'void' }, {}])).toEqual([
      { state: 'paid' },
    ]);
    expect(matching([{ value: { state: [{ 'anything-but': { prefix: 'test-' } }] } }], [{ state: 'test-1' }, { state: 'live' }])).toEqual([
      { state: 'live' },
    ]);
  });

  it('matches a field holding an array when any element matches', () => {
    expect(matching([{ value: { tags: ['vip'] } }], [{ tags: ['new', 'vip'] }, { tags: ['new'] }])).toEqual([{ tags: ['new', 'vip'] }]);
  });

  it('ORs patterns and $or alternatives, ANDs the fields of one pattern', () => {
    const values = [{ a: 1, b: 2 }, { a: 1, b: 3 }, { c: 1 }];
    expect(matching([{ value: { a: [1], b: [2] } }], values)).toEqual([{ a: 1, b: 2 }]);
    expect(matching([{ value: { a: [1], b: [2] } }, { value: { c: [1] } }], values)).toEqual([{ a: 1, b: 2 }, { c: 1 }]);
    expect(matching([{ value: { $or: [{ b: [3] }, { c: [1] }] } }], values)).toEqual([{ a: 1, b: 3 }, { c: 1 }]);
  });

  it('filters plain-string values with a list of rules and drops values whose format does not fit the pattern', () => {
    expect(matching([{ value: [{ 'anything-but': ['error'] }] }], ['ok', 'error', { state: 'ok' }])).toEqual(['ok']);
    expect(matching([{ value: { state: ['ok'] } }], ['ok', { state: 'ok' }])).toEqual([{ state: 'ok' }]);
    const filter = compileFilterPatterns([{ value: [{ exists: true }] }]);
    expect(filter.matches({ value: undefined as unknown as string })).toBe(false);
  });

  it('takes patterns written as JSON strings, as CloudFormation does', () => {
    expect(matching(['{"value":{"amount":[{"numeric":[">",1]}]}}'], [{ amount: 2 }, { amount: 0 }])).toEqual([{ amount: 2 }]);
  });

  it('refuses patterns Lambda would refuse, naming the spot', () => {
    const refuse = (patterns: unknown) => {
      try {
        compileFilterPatterns(patterns);
      } catch (error) {
        return error instanceof FilterPatternError ? error.message : `not a FilterPatternError: ${String(error)}`;
      }
      return 'accepted';
    };
    expect(refuse([{ key: { a: ['x'] } }])).toBe('[0].key: Kafka event sources filter on "value" only');
    expect(refuse([{ value: { a: 'x' } }])).toBe('[0].value.a: expected an object of fields or a list of rules (write ["x"], not "x")');
    expect(refuse([{ value: { a: [{ numeric: ['>>', 1] }] } }])).toBe('[0].value.a[0].numeric[0]: expected one of = < <= > >=');
    expect(refuse([{ value: { a: [{ wildcard: '*' }] } }])).toMatch(/^\[0\]\.value\.a\[0\]\.wildcard: unknown operator/);
    expect(refuse([])).toBe(': expected a list of 1 to 10 patterns');
  });
});

/**
 * Lambda event filtering (`filterPatterns` on an `msk` / `kafka` event) applied to a Kafka record.
 *
 * For Kafka, AWS filters on the record's `value` only: the base64 value is decoded as UTF-8; when it is a
 * JSON object the pattern's `value` must be an object of field rules, when it is a plain string the
 * pattern's `value` must be a list of rules for that string. A record whose format does not fit the
 * pattern, or that matches no pattern, is not sent to the function and its offset is still committed.
 * Patterns are OR-ed; the fields of one pattern are AND-ed; the rules in one list are OR-ed.
 *
 * Supported rules (Lambda's list): literal string / number / boolean / null (equals), "" (empty),
 * `prefix`, `suffix`, `equals-ignore-case`, `anything-but` (value, list, or `{prefix|suffix}`),
 * `numeric` (`=`, `<`, `<=`, `>`, `>=`, one or two comparisons), `exists`, and `$or` between fields.
 */
import type { MSKRecord } from 'aws-lambda';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** A pattern that cannot be used; `path` points into the pattern (e.g. `value.amount[0].numeric`). */
export class FilterPatternError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'FilterPatternError';
    this.path = path;
  }
}

type Rule =
  | { kind: 'equals'; value: string | number | boolean | null }
  | { kind: 'prefix'; value: string }
  | { kind: 'suffix'; value: string }
  | { kind: 'equalsIgnoreCase'; value: string }
  | { kind: 'anythingBut'; values: (string | number)[] }
  | { kind: 'anythingButPrefix'; value: string }
  | { kind: 'anythingButSuffix'; value: string }
  | { kind: 'numeric'; comparisons: { op: NumericOp; value: number }[] }
  | { kind: 'exists'; value: boolean };

type NumericOp = '=' | '<' | '<=' | '>' | '>=';
const NUMERIC_OPS: readonly NumericOp[] = ['=', '<', '<=', '>', '>='];

/** A compiled pattern node: rules for a leaf field, or fields (and `$or` alternatives) of an object. */
type Node = { kind: 'rules'; rules: Rule[] } | { kind: 'object'; fields: Map<string, Node>; or: Node[][] };

export interface CompiledFilter {
  /** The patterns as written (for logs). */
  source: Json[];
  /** True when the record should be sent to the function. */
  matches: (record: Pick<MSKRecord, 'value'>) => boolean;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function compileRule(rule: Json, path: string): Rule {
  if (rule === null || typeof rule === 'string' || typeof rule === 'number' || typeof rule === 'boolean') {
    return { kind: 'equals', value: rule };
  }
  if (!isObject(rule)) throw new FilterPatternError(path, 'a rule is a value or an object such as {"prefix": "AB"}');
  const keys = Object.keys(rule);
  if (keys.length !== 1) throw new FilterPatternError(path, `a rule object has exactly one operator, got ${keys.length}`);
  const operator = keys[0] ?? '';
  const operand = rule[operator];
  const at = `${path}.${operator}`;
  switch (operator) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case': {
      if (typeof operand !== 'string') throw new FilterPatternError(at, 'expected a string');
      const kind = operator === 'prefix' ? 'prefix' : operator === 'suffix' ? 'suffix' : 'equalsIgnoreCase';
      return { kind, value: operand };
    }
    case 'exists':
      if (typeof operand !== 'boolean') throw new FilterPatternError(at, 'expected true or false');
      return { kind: 'exists', value: operand };
    case 'anything-but': {
      if (typeof operand === 'string' || typeof operand === 'number') return { kind: 'anythingBut', values: [operand] };
      if (Array.isArray(operand)) {
        const values = operand.map((item, index) => {
          if (typeof item !== 'string' && typeof item !== 'number') {
            throw new FilterPatternError(`${at}[${index}]`, 'expected a string or a number');
          }
          return item;
        });
        if (values.length === 0) throw new FilterPatternError(at, 'expected at least one value');
        return { kind: 'anythingBut', values };
      }
      if (isObject(operand) && Object.keys(operand).length === 1) {
        if (typeof operand.prefix === 'string') return { kind: 'anythingButPrefix', value: operand.prefix };
        if (typeof operand.suffix === 'string') return { kind: 'anythingButSuffix', value: operand.suffix };
      }
      throw new FilterPatternError(at, 'expected a value, a list of values, or {"prefix": …} / {"suffix": …}');
    }
    case 'numeric': {
      if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) {
        throw new FilterPatternError(at, 'expected [op, number] or [op, number, op, number]');
      }
      const comparisons: { op: NumericOp; value: number }[] = [];
      for (let index = 0; index < operand.length; index += 2) {
        const op = NUMERIC_OPS.find((candidate) => candidate === operand[index]);
        const value = operand[index + 1];
        if (op === undefined) throw new FilterPatternError(`${at}[${index}]`, `expected one of ${NUMERIC_OPS.join(' ')}`);
        if (typeof value !== 'number' || !Number.isFinite(value)) {
          throw new FilterPatternError(`${at}[${index + 1}]`, 'expected a number');
        }
        comparisons.push({ op, value });
      }
      return { kind: 'numeric', comparisons };
    }
    default:
      throw new FilterPatternError(
        at,
        'unknown operator (Lambda supports prefix, suffix, equals-ignore-case, anything-but, numeric, exists)',
      );
  }
}

function compileNode(pattern: Json, path: string): Node {
  if (Array.isArray(pattern)) {
    if (pattern.length === 0) throw new FilterPatternError(path, 'a list of rules must not be empty');
    return { kind: 'rules', rules: pattern.map((rule, index) => compileRule(rule, `${path}[${index}]`)) };
  }
  if (!isObject(pattern)) {
    throw new FilterPatternError(path, 'expected an object of fields or a list of rules (write ["x"], not "x")');
  }
  const fields = new Map<string, Node>();
  const or: Node[][] = [];
  for (const [key, value] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2)
        throw new FilterPatternError(`${path}.$or`, 'expected a list of at least two patterns');
      or.push(value.map((alternative, index) => compileNode(alternative, `${path}.$or[${index}]`)));
    } else {
      fields.set(key, compileNode(value, `${path}.${key}`));
    }
  }
  if (fields.size === 0 && or.length === 0) throw new FilterPatternError(path, 'an empty pattern matches nothing useful');
  return { kind: 'object', fields, or };
}

const NUMERIC_COMPARISONS: Record<NumericOp, (actual: number, value: number) => boolean> = {
  '=': (actual, value) => actual === value,
  '<': (actual, value) => actual < value,
  '<=': (actual, value) => actual <= value,
  '>': (actual, value) => actual > value,
  '>=': (actual, value) => actual >= value,
};

function numericMatches(comparisons: { op: NumericOp; value: number }[], actual: number): boolean {
  return comparisons.every(({ op, value }) => NUMERIC_COMPARISONS[op](actual, value));
}

/** One rule against one present, non-array value. */
function ruleMatches(rule: Rule, actual: Json): boolean {
  switch (rule.kind) {
    case 'equals':
      return actual === rule.value;
    case 'prefix':
      return typeof actual === 'string' && actual.startsWith(rule.value);
    case 'suffix':
      return typeof actual === 'string' && actual.endsWith(rule.value);
    case 'equalsIgnoreCase':
      return typeof actual === 'string' && actual.toLowerCase() === rule.value.toLowerCase();
    case 'anythingBut':
      return !rule.values.some((value) => value === actual);
    case 'anythingButPrefix':
      return typeof actual === 'string' && !actual.startsWith(rule.value);
    case 'anythingButSuffix':
      return typeof actual === 'string' && !actual.endsWith(rule.value);
    case 'numeric':
      return typeof actual === 'number' && numericMatches(rule.comparisons, actual);
    case 'exists':
      return rule.value;
  }
}

/** A field's rules: a missing field only satisfies `exists: false`; an array field matches when any element does. */
function rulesMatch(rules: Rule[], present: boolean, actual: Json | undefined): boolean {
  return rules.some((rule) => {
    if (rule.kind === 'exists') return rule.value === present;
    if (!present || actual === undefined) return false;
    if (Array.isArray(actual)) return actual.some((item) => ruleMatches(rule, item));
    return ruleMatches(rule, actual);
  });
}

function nodeMatches(node: Node, present: boolean, actual: Json | undefined): boolean {
  if (node.kind === 'rules') return rulesMatch(node.rules, present, actual);
  if (!isObject(actual)) return false;
  for (const [key, child] of node.fields) {
    const has = Object.hasOwn(actual, key);
    if (!nodeMatches(child, has, has ? actual[key] : undefined)) return false;
  }
  return node.or.every((alternatives) => alternatives.some((alternative) => nodeMatches(alternative, true, actual)));
}

/** The record's value as Lambda filters it: a parsed JSON object, or the plain string, or undefined (no value). */
function decodeValue(base64: string | null | undefined): { json: JsonObject } | { text: string } | undefined {
  if (base64 === null || base64 === undefined) return undefined;
  const text = Buffer.from(base64, 'base64').toString('utf8');
  try {
    const parsed: unknown = JSON.parse(text);
    if (isObject(parsed)) return { json: parsed as JsonObject };
    // A JSON array is neither a plain string nor an object: no pattern can describe it.
    if (Array.isArray(parsed)) return undefined;
  } catch {
    // not JSON: a plain string
  }
  return { text };
}

/** A plain string value meets a list of rules; a number-looking string also meets numeric rules. */
function textMatches(rules: Rule[], text: string): boolean {
  return rules.some((rule) => {
    if (rule.kind === 'numeric') {
      const number = Number(text);
      return text.trim() !== '' && Number.isFinite(number) && numericMatches(rule.comparisons, number);
    }
    return rulesMatch([rule], true, text);
  });
}

/**
 * Compiles `filterPatterns` as written in serverless.yml (objects, or JSON strings as CloudFormation
 * takes them). Throws FilterPatternError naming the first bad spot (`[index].value…`).
 */
export function compileFilterPatterns(patterns: unknown): CompiledFilter {
  if (!Array.isArray(patterns) || patterns.length === 0 || patterns.length > 10) {
    throw new FilterPatternError('', 'expected a list of 1 to 10 patterns');
  }
  const source: Json[] = [];
  const compiled = patterns.map((raw: unknown, index): Node => {
    let pattern: unknown = raw;
    if (typeof raw === 'string') {
      try {
        pattern = JSON.parse(raw);
      } catch {
        throw new FilterPatternError(`[${index}]`, 'is a string but not JSON');
      }
    }
    if (!isObject(pattern)) throw new FilterPatternError(`[${index}]`, 'expected an object such as {"value": {"field": ["x"]}}');
    const keys = Object.keys(pattern);
    const other = keys.find((key) => key !== 'value');
    if (other !== undefined) {
      throw new FilterPatternError(`[${index}].${other}`, 'Kafka event sources filter on "value" only');
    }
    if (!('value' in pattern)) throw new FilterPatternError(`[${index}]`, 'expected a "value" key');
    source.push(pattern);
    const value = pattern.value;
    if (value === undefined) throw new FilterPatternError(`[${index}].value`, 'expected a pattern');
    return compileNode(value, `[${index}].value`);
  });

  const matches = (record: Pick<MSKRecord, 'value'>): boolean => {
    const decoded = decodeValue(record.value);
    if (decoded === undefined) return false;
    return compiled.some((node) => {
      if ('json' in decoded) return node.kind === 'object' && nodeMatches(node, true, decoded.json);
      return node.kind === 'rules' && textMatches(node.rules, decoded.text);
    });
  };
  return { source, matches };
}

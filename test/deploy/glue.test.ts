/**
 * The Glue table over the audit records (serverless.yml, AuditTable) cannot drift from the record:
 * real records, written by real deployments on the local endpoint, are checked against the declared
 * columns both ways, and every value against its declared type (Athena's Ion reader refuses a value
 * of another type, and reads a declared field the records never hold as NULL forever).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { callApprovalApi } from '../../cli/approval-client.ts';
import { auditKey } from '../../shared/audit.ts';
import { type Pipeline, digestOfSample, startPipeline } from '../workflow/harness.ts';

const root = resolve(import.meta.dirname, '..', '..');
const alice = { accessKeyId: 'alice', secretAccessKey: 'alice-secret' };

type Json = any;

/** A Hive type as Glue stores it: `string`, `int`, `array<T>`, `map<K,V>`, `struct<name:T,…>`. */
type HiveType =
  | { kind: 'string' | 'int' | 'bigint' | 'boolean' | 'double' }
  | { kind: 'array'; element: HiveType }
  | { kind: 'map'; key: HiveType; value: HiveType }
  | { kind: 'struct'; fields: Array<{ name: string; type: HiveType }> };

/** Parses a Hive type string (recursive descent; the grammar Glue and Athena read). */
function parseHiveType(text: string): HiveType {
  let at = 0;
  const name = () => {
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(at));
    if (!match) throw new Error(`expected a name at ${at} in ${text}`);
    at += match[0].length;
    return match[0];
  };
  const expectChar = (char: string) => {
    if (text[at] !== char) throw new Error(`expected "${char}" at ${at} in ${text}`);
    at++;
  };
  const type = (): HiveType => {
    const kind = name().toLowerCase();
    if (kind === 'array') {
      expectChar('<');
      const element = type();
      expectChar('>');
      return { kind, element };
    }
    if (kind === 'map') {
      expectChar('<');
      const key = type();
      expectChar(',');
      const value = type();
      expectChar('>');
      return { kind, key, value };
    }
    if (kind === 'struct') {
      expectChar('<');
      const fields: Array<{ name: string; type: HiveType }> = [];
      do {
        if (fields.length > 0) expectChar(',');
        const field = name();
        expectChar(':');
        fields.push({ name: field, type: type() });
      } while (text[at] === ',');
      expectChar('>');
      return { kind, fields };
    }
    if (kind === 'string' || kind === 'int' || kind === 'bigint' || kind === 'boolean' || kind === 'double') return { kind };
    throw new Error(`unsupported type ${kind} in ${text}`);
  };
  const parsed = type();
  if (at !== text.length) throw new Error(`trailing text at ${at} in ${text}`);
  return parsed;
}

/** Struct paths whose record objects hold more than the table declares, on purpose (and why). */
const partial: Record<string, string> = {
  // A stage's release is the bundle and images columns; its approval's details the approvals column.
  'stages[]': 'release',
  'stages[].approval': 'environment, separationOfDuties, sameRolePolicy, pushers',
};

/** Every struct field seen in the records, by path (lower case, as Athena matches them). */
type Seen = Map<string, Set<string>>;

/** Checks one value against its declared type; collects the struct fields it holds. */
function conform(value: unknown, type: HiveType, path: string, seen: Seen, problems: string[]): void {
  if (value === null || value === undefined) return; // any column may be NULL
  switch (type.kind) {
    case 'string':
      if (typeof value !== 'string') problems.push(`${path}: declared string, the record holds ${JSON.stringify(value)?.slice(0, 60)}`);
      return;
    case 'int':
    case 'bigint':
      if (!Number.isInteger(value)) problems.push(`${path}: declared ${type.kind}, the record holds ${JSON.stringify(value)}`);
      return;
    case 'double':
      if (typeof value !== 'number') problems.push(`${path}: declared double, the record holds ${JSON.stringify(value)}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') problems.push(`${path}: declared boolean, the record holds ${JSON.stringify(value)}`);
      return;
    case 'array':
      if (!Array.isArray(value)) return void problems.push(`${path}: declared array, the record holds ${typeof value}`);
      for (const element of value) conform(element, type.element, `${path}[]`, seen, problems);
      return;
    case 'map':
      if (typeof value !== 'object' || Array.isArray(value)) return void problems.push(`${path}: declared map, the record holds ${typeof value}`);
      for (const [key, entry] of Object.entries(value)) conform(entry, type.value, `${path}{${key}}`, seen, problems);
      return;
    case 'struct': {
      if (typeof value !== 'object' || Array.isArray(value)) return void problems.push(`${path}: declared struct, the record holds ${typeof value}`);
      const held = new Map(Object.entries(value).map(([key, field]) => [key.toLowerCase(), field]));
      const fields = seen.get(path) ?? new Set<string>();
      for (const key of held.keys()) fields.add(key);
      seen.set(path, fields);
      const declared = new Set(type.fields.map((f) => f.name.toLowerCase()));
      const allowed = new Set((partial[path] ?? '').split(',').map((f) => f.trim().toLowerCase()).filter(Boolean));
      for (const key of held.keys()) if (!declared.has(key) && !allowed.has(key)) problems.push(`${path}.${key}: in the record, not declared in the table`);
      for (const field of type.fields) conform(held.get(field.name.toLowerCase()), field.type, `${path}.${field.name}`, seen, problems);
      return;
    }
  }
}

/** Declared struct fields that no record holds (Athena would read them as NULL, always). */
function neverHeld(type: HiveType, path: string, seen: Seen): string[] {
  switch (type.kind) {
    case 'array':
      return neverHeld(type.element, `${path}[]`, seen);
    case 'map':
      return neverHeld(type.value, `${path}{}`, seen);
    case 'struct':
      return type.fields.flatMap((field) => [
        ...(seen.get(path)?.has(field.name.toLowerCase()) ? [] : [`${path}.${field.name}`]),
        ...neverHeld(field.type, `${path}.${field.name}`, seen),
      ]);
    default:
      return [];
  }
}

const serverless = parse(readFileSync(resolve(root, 'serverless.yml'), 'utf8'));
const table = (serverless.resources as Json[]).find((fragment) => fragment.Resources?.AuditTable)!.Resources.AuditTable.Properties.TableInput;
const columns: Array<{ Name: string; Type: string }> = table.StorageDescriptor.Columns;

let pipeline: Pipeline;
const records: Array<{ key: string; record: Record<string, unknown> }> = [];

beforeAll(async () => {
  pipeline = await startPipeline({ configPath: resolve(root, 'test/fixtures/approval.greenlight.yml') });
  const readRecord = async (name: string) => {
    const key = (await pipeline.objectKeys(pipeline.stack.auditBucket)).find((k) => k.startsWith('deployments/') && k.endsWith(`/${name}.json`))!;
    records.push({ key, record: JSON.parse(new TextDecoder().decode(await pipeline.object(pipeline.stack.auditBucket, key))) });
  };
  // Deployed to dev, then promoted to prod by an approver: stages, approvals, bundle and images filled in.
  await pipeline.deploy('hello-api', 'v0.9.0');
  const { executionArn } = await pipeline.start('hello-api', 'v1.0.0');
  let id: string | undefined;
  for (let attempt = 0; attempt < 300 && !id; attempt++) {
    const { pending } = await callApprovalApi(pipeline.stack.approvalUrl!, 'GET', '/pending', undefined, alice);
    id = pending.find((p: { executionArn: string }) => p.executionArn === executionArn)?.id;
    if (!id) await new Promise((done) => setTimeout(done, 20));
  }
  await callApprovalApi(pipeline.stack.approvalUrl!, 'POST', `/approvals/${id}`, { decision: 'approve', comment: 'ship it' }, alice);
  await readRecord((await pipeline.finish(executionArn)).description.name!);
  // Failed and rolled back: failed steps, errors and causes, a rollback's EB events.
  pipeline.stack.aws.faults.failingImages = [digestOfSample('hello-api:v0.9.1')];
  await readRecord((await pipeline.deploy('hello-api', 'v0.9.1')).description.name!);
  // Rejected before any plan: nulls where the push got nothing.
  await readRecord((await pipeline.deploy('hello-api', 'latest')).description.name!);
}, 120_000);
afterAll(() => pipeline?.close());

describe('the Athena table of the audit records', () => {
  it('has a column for every top-level key of a real record, and no column the record lacks', () => {
    const names = columns.map((c) => c.Name);
    expect(names.every((name) => name === name.toLowerCase()), 'Athena column names are lower case').toBe(true);
    expect(records.map((r) => r.record.outcome)).toEqual(['succeeded', 'failed', 'rejected']);
    for (const { record } of records) {
      expect(Object.keys(record).map((key) => key.toLowerCase()).sort()).toEqual([...names].sort());
    }
  });

  it('types every value as the record holds it, declaring every struct field the records hold and none they never do', () => {
    const seen: Seen = new Map();
    const problems: string[] = [];
    for (const { record } of records) {
      const byName = new Map(Object.entries(record).map(([key, value]) => [key.toLowerCase(), value]));
      for (const column of columns) conform(byName.get(column.Name), parseHiveType(column.Type), column.Name, seen, problems);
    }
    expect(problems).toEqual([]);
    expect(columns.flatMap((column) => neverHeld(parseHiveType(column.Type), column.Name, seen))).toEqual([]);
  });

  it('partitions by the day in the key: the projected day is the record\'s start day, never a column of the record', () => {
    expect(table.PartitionKeys).toEqual([expect.objectContaining({ Name: 'day', Type: 'string' })]);
    for (const { key, record } of records) {
      expect(record).not.toHaveProperty('day');
      expect(key).toBe(auditKey(record as { startedAt: string; deploymentId: string }));
      const day = (record.startedAt as string).slice(0, 10).replaceAll('-', '/');
      expect(key).toMatch(new RegExp(`^deployments/${day}/[^/]+\\.json$`));
    }
  });

  it('reads Hive types the way the check assumes', () => {
    expect(parseHiveType('array<struct<a:string,b:map<string,int>>>')).toEqual({
      kind: 'array',
      element: { kind: 'struct', fields: [{ name: 'a', type: { kind: 'string' } }, { name: 'b', type: { kind: 'map', key: { kind: 'string' }, value: { kind: 'int' } } }] },
    });
    expect(() => parseHiveType('struct<a:string')).toThrow();
    const problems: string[] = [];
    conform({ a: 1, extra: 'x' }, parseHiveType('struct<a:string>'), 'c', new Map(), problems);
    expect(problems).toEqual(['c.extra: in the record, not declared in the table', 'c.a: declared string, the record holds 1']);
  });
});

// What the fuzz test sends: bodies derived from the wire schemas and mutated, and the framing cases.
import fc from 'fast-check';
import type { z } from 'zod';
import { type ArbitraryOverrides, validArbitrary } from './zod-arbitrary.js';

export interface BodyCase {
  label: string;
  bytes: Uint8Array;
}

const enc = (s: string) => new TextEncoder().encode(s);
const json = (label: string, v: unknown): BodyCase => ({ label, bytes: enc(JSON.stringify(v) ?? '') });

/** A value of the wrong kind for any field. */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.string({ maxLength: 8 }),
  fc.constant('x'.repeat(20_000)),
  fc.constant(-1),
  fc.constant(Number.MAX_SAFE_INTEGER + 2),
  fc.constant(1e308),
);

/** Whole bodies that are not what any route wants. */
export const malformedBody: fc.Arbitrary<BodyCase> = fc.oneof(
  fc.constantFrom<BodyCase>(
    { label: 'empty', bytes: new Uint8Array(0) },
    { label: 'not JSON', bytes: enc('{"a":') },
    { label: 'not JSON text', bytes: enc('hello=world&x=1') },
    { label: 'null', bytes: enc('null') },
    { label: 'array', bytes: enc('[]') },
    { label: 'string', bytes: enc('"s"') },
    { label: 'number', bytes: enc('12') },
    { label: 'invalid UTF-8', bytes: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0xc3, 0x28, 0x7d]) },
    { label: 'lone surrogate escape', bytes: enc('{"name":"\\ud800","code":"\\udfff"}') },
    { label: 'BOM', bytes: new Uint8Array([0xef, 0xbb, 0xbf, ...enc('{}')]) },
    { label: 'NUL bytes', bytes: enc('{"a":"\u0000"}\u0000') },
    { label: '__proto__', bytes: enc('{"__proto__":{"x":1},"constructor":{"prototype":{"y":2}}}') },
    { label: 'deep nesting (arrays)', bytes: enc('['.repeat(5000) + ']'.repeat(5000)) },
    { label: 'deep nesting (objects)', bytes: enc(`${'{"a":'.repeat(2500)}1${'}'.repeat(2500)}`) },
    { label: 'huge body', bytes: enc(JSON.stringify({ x: 'y'.repeat(600_000) })) },
  ),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ label: 'random bytes', bytes })),
  fc.jsonValue({ maxDepth: 3 }).map((v) => json('random JSON', v)),
);

/** Valid bodies of `schema`, and the same with one thing wrong. */
export function bodyCases(schema: z.ZodType | undefined, o: ArbitraryOverrides): fc.Arbitrary<BodyCase> {
  if (!schema)
    return fc.oneof(
      { arbitrary: malformedBody, weight: 1 },
      { arbitrary: fc.constant<BodyCase>({ label: 'none', bytes: new Uint8Array(0) }), weight: 1 },
    );
  const valid = validArbitrary(schema, o);
  const obj = valid.filter((v) => v !== null && typeof v === 'object' && !Array.isArray(v)) as fc.Arbitrary<Record<string, unknown>>;
  const mutated = fc.oneof(
    fc.tuple(obj, fc.nat()).map(([v, i]) => {
      const k = Object.keys(v);
      const c = { ...v };
      if (k.length) delete c[k[i % k.length]!];
      return json('dropped field', c);
    }),
    fc
      .tuple(obj, fc.string({ minLength: 1, maxLength: 12 }), fc.jsonValue({ maxDepth: 1 }))
      .map(([v, k, x]) => json('added field', { ...v, [k]: x })),
    fc.tuple(obj, fc.nat(), wrongValue).map(([v, i, x]) => {
      const k = Object.keys(v);
      return json('wrong type', k.length ? { ...v, [k[i % k.length]!]: x } : { x });
    }),
    fc.tuple(obj, fc.nat(), fc.integer({ min: 300, max: 200_000 })).map(([v, i, n]) => {
      const k = Object.keys(v);
      return json('huge string', k.length ? { ...v, [k[i % k.length]!]: 'é'.repeat(n) } : { x: 'é'.repeat(n) });
    }),
    obj.map((v) => json('duplicated keys', v).bytes).map((b) => ({ label: 'trailing garbage', bytes: new Uint8Array([...b, 0x2c, 0x7d]) })),
  );
  return fc.oneof(
    { arbitrary: valid.map((v) => json('valid', v)), weight: 3 },
    { arbitrary: mutated, weight: 4 },
    { arbitrary: malformedBody, weight: 2 },
  );
}

export const contentTypes = fc.constantFrom<string | undefined>(
  undefined,
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  ';;;=',
  'application/octet-stream',
);

/** Query strings: the inbox's numbers, broken percent-encoding, repeats. */
export const queries = fc.oneof(
  fc.constant(''),
  fc.constantFrom(
    '?after=-1',
    '?limit=0',
    '?limit=99999999999999999999',
    '?after=1e3',
    '?after=%zz',
    '?%ff=%fe',
    '?a=%00',
    '?after=1&after=2',
    '?limit=',
    `?x=${'a'.repeat(4000)}`,
    '?pattern=XX',
    '?pattern=IK',
  ),
  fc.tuple(fc.nat(), fc.nat()).map(([a, l]) => `?after=${a}&limit=${l}`),
);

export const pathParams = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/),
  fc.constantFrom('%zz', '%00', '%ff%fe', 'a'.repeat(3000), '..%2f..%2fetc', '%E2%82'),
);

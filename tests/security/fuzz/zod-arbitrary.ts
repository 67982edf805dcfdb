// A fast-check arbitrary for the zod v4 types the wire contract uses (src/shared/wire), so the fuzz test's
// "valid" bodies follow the schemas themselves: a field added to a schema is fuzzed without touching the test.
// Cross-field refinements (e.g. "code or linking_code") are not modelled; the result is filtered through the
// schema instead, which keeps every generated value truly valid.
import fc from 'fast-check';
import type { z } from 'zod';

/** Generators to use for particular schema instances (or string formats) instead of the derived ones. */
export interface ArbitraryOverrides {
  schemas?: Map<z.ZodType, fc.Arbitrary<unknown>>;
  /** For `z.string().url()`: the fuzz test points these at loopback only. */
  url?: fc.Arbitrary<string>;
}

/** Longest string or array the generator makes on its own (mutations go far beyond). */
const MAX_GENERATED = 48;

export function validArbitrary<S extends z.ZodType>(schema: S, overrides: ArbitraryOverrides = {}): fc.Arbitrary<z.input<S>> {
  return build(schema, overrides).filter((v) => schema.safeParse(v).success) as fc.Arbitrary<z.input<S>>;
}

type Def = { type: string; checks?: { _zod: { def: Record<string, any> } }[]; [k: string]: any };
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;
const checksOf = (d: Def) => (d.checks ?? []).map((c) => c._zod.def);

function isOptionalInObject(s: z.ZodType): boolean {
  const t = defOf(s).type;
  return t === 'optional' || t === 'default';
}

function build(s: z.ZodType, o: ArbitraryOverrides): fc.Arbitrary<unknown> {
  const own = o.schemas?.get(s);
  if (own) return own;
  const d = defOf(s);
  switch (d.type) {
    case 'string':
      return stringArb(d, o);
    case 'number':
      return numberArb(d);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'unknown':
    case 'any':
      return fc.jsonValue({ maxDepth: 2 });
    case 'literal':
      return fc.constantFrom(...(d.values as unknown[]));
    case 'enum':
      return fc.constantFrom(...Object.values(d.entries as Record<string, unknown>));
    case 'optional':
    case 'default':
      return fc.option(build(d.innerType, o), { nil: undefined });
    case 'nullable':
      return fc.option(build(d.innerType, o), { nil: null });
    case 'pipe':
      return build(d.in, o);
    case 'union':
      return fc.oneof(...(d.options as z.ZodType[]).map((x) => build(x, o)));
    case 'array': {
      const { min, max } = lengths(d);
      return fc.array(build(d.element, o), { minLength: min, maxLength: Math.min(max, Math.max(min, 4)) });
    }
    case 'record': {
      const key = build(d.keyType, o) as fc.Arbitrary<string>;
      return fc.dictionary(key, build(d.valueType, o), { maxKeys: 4 });
    }
    case 'object': {
      const shape = d.shape as Record<string, z.ZodType>;
      const fields = Object.fromEntries(
        Object.entries(shape).map(([k, v]) => [k, isOptionalInObject(v) ? build(defOf(v).innerType, o) : build(v, o)]),
      );
      const requiredKeys = Object.keys(shape).filter((k) => !isOptionalInObject(shape[k]!));
      return fc.record(fields, { requiredKeys });
    }
    default:
      throw new Error(`zod-arbitrary: no generator for zod type "${d.type}"; add it here`);
  }
}

function lengths(d: Def): { min: number; max: number } {
  let min = 0;
  let max = Number.POSITIVE_INFINITY;
  for (const c of checksOf(d)) {
    if (c.check === 'min_length') min = Math.max(min, c.minimum);
    if (c.check === 'max_length') max = Math.min(max, c.maximum);
    if (c.check === 'length_equals') {
      min = c.length;
      max = c.length;
    }
  }
  return { min, max };
}

function stringArb(d: Def, o: ArbitraryOverrides): fc.Arbitrary<string> {
  const { min, max } = lengths(d);
  const checks = checksOf(d);
  if (checks.some((c) => c.check === 'string_format' && c.format === 'url')) {
    return o.url ?? fc.webUrl();
  }
  const regex = checks.find((c) => c.check === 'string_format' && c.format === 'regex')?.pattern as RegExp | undefined;
  const inRange = (s: string) => s.length >= min && s.length <= max;
  if (regex) return fc.stringMatching(regex).filter(inRange);
  return fc.string({ minLength: min, maxLength: Math.min(max, Math.max(min, MAX_GENERATED)), unit: 'grapheme' });
}

function numberArb(d: Def): fc.Arbitrary<number> {
  let min = -1e9;
  let max = 1e9;
  let int = false;
  for (const c of checksOf(d)) {
    if (c.check === 'number_format' && /int/.test(String(c.format))) int = true;
    if (c.check === 'greater_than') min = c.inclusive ? c.value : c.value + (int ? 1 : Number.EPSILON);
    if (c.check === 'less_than') max = c.inclusive ? c.value : c.value - (int ? 1 : Number.EPSILON);
  }
  return int ? fc.integer({ min: Math.ceil(min), max: Math.floor(max) }) : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
}

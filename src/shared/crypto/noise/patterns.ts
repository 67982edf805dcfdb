// Handshake patterns (Noise spec sections 7.4-7.6) written in the spec's own notation, parsed once, so the
// table can be checked against the spec by eye. Modifiers (pskN) are applied in protocol.ts.
import { NoiseError } from './noise-error.js';

export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk';

export interface HandshakePattern {
  name: string;
  /** Keys known before the handshake: what "-> s" / "<- s" above the "..." line say. */
  initiatorPre: Token[];
  responderPre: Token[];
  /** messages[i] is written by the initiator when i is even (one-way patterns: only message 0). */
  messages: Token[][];
  oneWay: boolean;
}

const TABLE: Record<string, string> = {
  // One-way (7.4)
  N: '<- s | ... | -> e, es',
  K: '-> s | <- s | ... | -> e, es, ss',
  X: '<- s | ... | -> e, es, s, ss',
  // Fundamental interactive (7.5)
  NN: '-> e | <- e, ee',
  NK: '<- s | ... | -> e, es | <- e, ee',
  NX: '-> e | <- e, ee, s, es',
  KN: '-> s | ... | -> e | <- e, ee, se',
  KK: '-> s | <- s | ... | -> e, es, ss | <- e, ee, se',
  KX: '-> s | ... | -> e | <- e, ee, se, s, es',
  XN: '-> e | <- e, ee | -> s, se',
  XK: '<- s | ... | -> e, es | <- e, ee | -> s, se',
  XX: '-> e | <- e, ee, s, es | -> s, se',
  IN: '-> e, s | <- e, ee, se',
  IK: '<- s | ... | -> e, es, s, ss | <- e, ee, se',
  IX: '-> e, s | <- e, ee, se, s, es',
  // Deferred (7.6)
  NK1: '<- s | ... | -> e | <- e, ee, es',
  NX1: '-> e | <- e, ee, s | -> es',
  X1N: '-> e | <- e, ee | -> s | <- se',
  X1K: '<- s | ... | -> e, es | <- e, ee | -> s | <- se',
  XK1: '<- s | ... | -> e | <- e, ee, es | -> s, se',
  X1K1: '<- s | ... | -> e | <- e, ee, es | -> s | <- se',
  X1X: '-> e | <- e, ee, s, es | -> s | <- se',
  XX1: '-> e | <- e, ee, s | -> es, s, se',
  X1X1: '-> e | <- e, ee, s | -> es, s | <- se',
  K1N: '-> s | ... | -> e | <- e, ee | -> se',
  K1K: '-> s | <- s | ... | -> e, es | <- e, ee | -> se',
  KK1: '-> s | <- s | ... | -> e | <- e, ee, se, es',
  K1K1: '-> s | <- s | ... | -> e | <- e, ee, es | -> se',
  K1X: '-> s | ... | -> e | <- e, ee, s, es | -> se',
  KX1: '-> s | ... | -> e | <- e, ee, se, s | -> es',
  K1X1: '-> s | ... | -> e | <- e, ee, s | -> se, es',
  I1N: '-> e, s | <- e, ee | -> se',
  I1K: '<- s | ... | -> e, es, s | <- e, ee | -> se',
  IK1: '<- s | ... | -> e, s | <- e, ee, se, es',
  I1K1: '<- s | ... | -> e, s | <- e, ee, es | -> se',
  I1X: '-> e, s | <- e, ee, s, es | -> se',
  IX1: '-> e, s | <- e, ee, se, s | -> es',
  I1X1: '-> e, s | <- e, ee, s | -> se, es',
};

const TOKENS = new Set<string>(['e', 's', 'ee', 'es', 'se', 'ss', 'psk']);

function parse(name: string, text: string): HandshakePattern {
  const lines = text.split('|').map((l) => l.trim());
  const dots = lines.indexOf('...');
  const pre = dots >= 0 ? lines.slice(0, dots) : [];
  const body = dots >= 0 ? lines.slice(dots + 1) : lines;
  const tokensOf = (line: string) =>
    line
      .slice(2)
      .split(',')
      .map((t) => t.trim())
      .filter((t) => TOKENS.has(t)) as Token[];
  const pattern: HandshakePattern = { name, initiatorPre: [], responderPre: [], messages: [], oneWay: name.length === 1 };
  for (const line of pre) (line.startsWith('->') ? pattern.initiatorPre : pattern.responderPre).push(...tokensOf(line));
  body.forEach((line, i) => {
    // Interactive patterns alternate, starting with the initiator; the table is checked here once.
    if (line.startsWith('->') !== (i % 2 === 0)) throw new Error(`pattern ${name}: message ${i} has the wrong direction`);
    pattern.messages.push(tokensOf(line));
  });
  return pattern;
}

const PATTERNS = new Map(Object.entries(TABLE).map(([name, text]) => [name, parse(name, text)]));

export const SUPPORTED_PATTERNS: readonly string[] = [...PATTERNS.keys()];

export function basePattern(name: string): HandshakePattern {
  const p = PATTERNS.get(name);
  if (!p) throw new NoiseError('unsupported', `unsupported handshake pattern "${name}"`);
  return { ...p, initiatorPre: [...p.initiatorPre], responderPre: [...p.responderPre], messages: p.messages.map((m) => [...m]) };
}

/** psk0 puts a "psk" token at the start of the first message; pskN (N>=1) at the end of message N. */
export function applyPskModifiers(pattern: HandshakePattern, modifiers: string[]): HandshakePattern {
  const out = { ...pattern, name: `${pattern.name}${modifiers.join('+')}`, messages: pattern.messages.map((m) => [...m]) };
  for (const mod of modifiers) {
    const m = /^psk(\d+)$/.exec(mod);
    if (!m) throw new NoiseError('unsupported', `unsupported pattern modifier "${mod}"`);
    const n = Number(m[1]);
    if (n === 0) out.messages[0]!.unshift('psk');
    else if (n <= out.messages.length) out.messages[n - 1]!.push('psk');
    else throw new NoiseError('unsupported', `modifier ${mod} names message ${n}, but ${pattern.name} has ${out.messages.length}`);
  }
  return out;
}

// The node's mDNS against an independent implementation, Debian's python3-zeroconf, each case in a private
// network namespace this test makes (multicast never leaves the machine). Without python3-zeroconf the tests
// skip and say why on a developer machine; in CI (which installs it, .ci/run) they fail instead.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runScenario, whyNoNamespace } from './netns-run.js';

const scenario = fileURLToPath(new URL('./zeroconf-scenario.ts', import.meta.url));
const PYTHON = process.env.SALITA_PYTHON ?? '/usr/bin/python3';
const TYPE = '._salita._tcp.local.';
/** A veth pair for the IPv6 case; z0 is created first (lowest index) and is the node's interface. */
const VETH_V6 = [
  'sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0',
  'ip link add z1 type veth peer name z0',
  'ip addr add 10.96.0.1/24 dev z0',
  'ip addr add 10.96.0.2/24 dev z1',
  'ip link set z0 up multicast on',
  'ip link set z1 up multicast on',
].join(' && ');

function whyNoZeroconf(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import zeroconf'], { encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  const why = `python3-zeroconf is not importable by ${PYTHON} (install it: apt-get install -y python3-zeroconf, or set SALITA_PYTHON)`;
  if (process.env.CI) throw new Error(`${why}; CI must run the mDNS interop tests.`);
  return why;
}

const reason = whyNoNamespace() ?? whyNoZeroconf();
const opts = { skip: reason ? `mDNS interop test skipped: ${reason}` : false, timeout: 180_000 };
const names = (found: { name: string }[]) => found.map((f) => f.name);

test('same name as a zeroconf host that just announced: the node is renamed, a zeroconf browser sees both', opts, async () => {
  const r = await runScenario(scenario, '', ['same-name']);
  assert.equal(r.zeroconf_name, r.base, 'zeroconf, first, keeps the name');
  assert.equal(r.node_instance, `${r.base} (2)`, 'the node noticed the name was taken and took the next one');
  assert.deepEqual(names(r.browse).sort(), [`${r.base}${TYPE}`, `${r.base} (2)${TYPE}`].sort());
  const node = r.browse.find((f: any) => f.name === `${r.base} (2)${TYPE}`);
  assert.equal(node.txt.fp, 'AAAABBBBCCCCDDDD', 'TXT resolved under the new name');
});

test('a zeroconf host announces the name after the node claimed it: the node renames (RFC 6762 §9)', opts, async () => {
  const r = await runScenario(scenario, '', ['late-conflict']);
  assert.equal(r.node_instance_before, r.base);
  assert.equal(r.node_instance_after, `${r.base} (2)`);
  assert.deepEqual(r.name_events, [`${r.base} (2)`], "the module says so ('name' event) and shows it in status()");
  assert.ok(names(r.browse).includes(`${r.base} (2)${TYPE}`), `zeroconf sees: ${names(r.browse)}`);
});

test('a 40-character Cyrillic name is cut to one DNS label and zeroconf can browse it', opts, async () => {
  const r = await runScenario(scenario, '', ['long-name']);
  assert.equal(r.name_chars, 40);
  const instance: string = r.status.instance_name;
  assert.ok(r.instance_bytes <= 63, `instance label is ${r.instance_bytes} bytes`);
  assert.equal(r.status.instance_name_cut, true);
  assert.ok(!instance.includes('\uFFFD'), 'cut on a character boundary');
  assert.ok(instance.startsWith('Рабочий компьютер'), instance);
  assert.deepEqual(names(r.browse), [`${instance}${TYPE}`]);
  assert.equal(r.browse[0].txt.name, 'Рабочий компьютер в большой комнате дома', 'TXT keeps the full display name');
});

test('a legacy unicast query (not from port 5353) is answered by unicast to its port, with its ID (RFC 6762 §6.7)', opts, async () => {
  const r = await runScenario(scenario, '', ['legacy-unicast']);
  const answers = r.reply.answers;
  assert.ok(answers.length >= 1, "an answer came back to the querier's own port");
  assert.equal(answers[0].id, r.reply.query_id, 'the query ID is repeated');
  assert.ok(answers[0].records.some((rec: any) => rec.type === 'SRV' && rec.name === r.fqdn));
  assert.ok(
    answers[0].records.every((rec: any) => !rec.cache_flush),
    'no cache-flush bit towards a legacy resolver',
  );
});

test('unique records carry the cache-flush bit, shared PTR records do not (RFC 6762 §10.2)', opts, async () => {
  const r = await runScenario(scenario, '', ['cache-flush']);
  assert.equal(r.reply.still_noisy, false);
  const records = r.reply.answers.flatMap((a: any) => a.records);
  const srv = records.find((rec: any) => rec.type === 'SRV' && rec.name === r.fqdn);
  const txt = records.find((rec: any) => rec.type === 'TXT' && rec.name === r.fqdn);
  assert.ok(srv && txt, `records: ${JSON.stringify(records)}`);
  assert.equal(srv.cache_flush, true);
  assert.equal(txt.cache_flush, true);
  for (const rec of records.filter((x: any) => x.type === 'A' || x.type === 'AAAA')) assert.equal(rec.cache_flush, true, rec.type);
  for (const rec of records.filter((x: any) => x.type === 'PTR')) assert.equal(rec.cache_flush, false, rec.name);
});

test('a query that already lists the answer gets none; the same query without it does (RFC 6762 §7.1)', opts, async () => {
  const r = await runScenario(scenario, '', ['known-answer']);
  assert.equal(r.reply.still_noisy, false, 'the namespace went quiet before the check');
  assert.equal(r.reply.with_known.length, 0, `answered despite the known answer: ${JSON.stringify(r.reply.with_known)}`);
  assert.ok(r.reply.without_known.length >= 1, 'the control query is answered');
});

test('the node answers mDNS over IPv6 (ff02::fb) across a link', opts, async () => {
  const r = await runScenario(scenario, VETH_V6, ['ipv6']);
  assert.equal(r.reply.still_noisy, false);
  const answer = r.reply.answers.find((a: any) => a.records.some((rec: any) => rec.type === 'SRV' && rec.name === r.fqdn));
  assert.ok(answer, `no IPv6 answer: ${JSON.stringify(r.reply)}`);
  assert.ok(String(answer.from[0]).includes(':'), `answer came from ${answer.from[0]}`);
});

// mDNS discovery between two real nodes, run in a network namespace this test makes, so multicast never
// leaves the machine (DEVELOPERS.md). Where namespaces cannot be made (no CAP_SYS_ADMIN, no `unshare`/`ip`),
// the test is skipped and says why; it never falls back to the real network.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runScenario, whyNoNamespace } from './netns-run.js';

const scenario = fileURLToPath(new URL('./netns-scenario.ts', import.meta.url));
const edgeScenario = fileURLToPath(new URL('./netns-edge-scenario.ts', import.meta.url));
const reason = whyNoNamespace();

test('two nodes discover each other over mDNS, see a rename and a goodbye, and exit without leaked sockets', {
  skip: reason ? `mDNS test skipped: ${reason}` : false,
  timeout: 180_000,
}, async () => {
  const r = await runScenario(scenario);
  assert.equal(r.a_sees_b.fingerprint, r.b.fingerprint, 'TXT fp is the peer fingerprint');
  assert.equal(r.a_sees_b.port, r.b.port, 'SRV port is the peer HTTP port');
  assert.ok(r.a_sees_b.addresses.includes('127.0.0.1'), `addresses: ${r.a_sees_b.addresses}`);
  assert.equal(r.a_sees_b.paired, false);
  assert.equal(r.b_sees_a.fingerprint, r.a.fingerprint);
  assert.equal(r.a_sees_self, false, 'a node does not list itself');
  assert.equal(r.a_sees_rename.name, 'Renamed B');
  assert.equal(r.b_gone_from_a, true);
});

test('mDNS edge cases: published-before-browse, name conflict, chosen addresses, new interface, goodbye events', {
  skip: reason ? `mDNS test skipped: ${reason}` : false,
  timeout: 180_000,
}, async () => {
  // The scenario adds its own veth pairs: one for a chosen address, one that appears later.
  const r = await runScenario(edgeScenario);
  assert.equal(r.x_status_started.running, true);
  assert.equal(r.y_finds_earlier_x, true, 'a service published before the browser started is found');
  assert.equal(r.x_finds_y, true);
  assert.equal(r.z_status.instance_name, `${r.x_status_started.instance_name} (2)`, 'conflicting instance name gets a suffix');
  assert.equal(r.y_sees_x_and_z, true, 'both nodes with the same name are discovered');
  assert.equal(r.x_sees_z, true);
  assert.deepEqual(r.x_status_restricted.advertised_addresses, ['10.97.0.1'], 'only addresses this machine has are advertised');
  assert.ok(r.y_sees_x_restricted.includes('10.97.0.1'), `addresses: ${r.y_sees_x_restricted}`);
  assert.equal(r.y_address_event, true, "'peer-addresses' fired");
  assert.ok(!r.y_sees_x_unrestricted.includes('10.97.0.1'), `addresses: ${r.y_sees_x_unrestricted}`);
  assert.ok(r.z_status_new_iface.includes('10.99.0.1'));
  assert.ok(r.y_sees_z_new_iface.includes('10.99.0.1'), `addresses: ${r.y_sees_z_new_iface}`);
  assert.equal(r.rename_goodbyes, 0, 'a rename is not reported as a goodbye');
  assert.equal(r.z_status_renamed.instance_name, `Desk ${r.z_status.instance_name.match(/\[[0-9a-f]{8}\]/)[0]}`);
  assert.equal(r.y_goodbye_x, true, "'goodbye' fired when X stopped");
  assert.equal(r.y_dropped_x, true);
  assert.equal(r.x_status_stopped.running, false);
  assert.equal(r.y_discovered_after, 1);
});

// The node's life cycle: services start in order, stop in reverse, and a failed start undoes what started.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Service } from '../../src/main/core/services/service.js';
import { ServiceGroup } from '../../src/main/core/services/service-group.js';

function recorder() {
  const events: string[] = [];
  const service = (name: string, opts: { failStart?: boolean; failStop?: boolean; hold?: Promise<void> } = {}): Service => ({
    name,
    start: async () => {
      events.push(`start ${name}`);
      if (opts.hold) await opts.hold;
      if (opts.failStart) throw new Error(`${name} would not start`);
    },
    stop: () => {
      events.push(`stop ${name}`);
      if (opts.failStop) throw new Error(`${name} would not stop`);
    },
  });
  return { events, service };
}

describe('ServiceGroup', () => {
  it('starts services in order and stops them in reverse', async () => {
    const { events, service } = recorder();
    const group = new ServiceGroup([service('database'), service('http'), service('mdns')]);
    await group.start();
    assert.deepEqual(group.running(), ['database', 'http', 'mdns']);
    await group.stop();
    assert.deepEqual(events, ['start database', 'start http', 'start mdns', 'stop mdns', 'stop http', 'stop database']);
    assert.deepEqual(group.running(), []);
  });

  it('a failing start stops what already started, newest first, and passes the failure on; later services never start', async () => {
    const { events, service } = recorder();
    const group = new ServiceGroup([service('database'), service('http'), service('peer links', { failStart: true }), service('mdns')]);
    await assert.rejects(group.start(), /peer links would not start/);
    assert.deepEqual(events, ['start database', 'start http', 'start peer links', 'stop http', 'stop database']);
    await group.stop();
    assert.equal(events.length, 5, 'nothing is stopped twice');
  });

  it('a stop that fails is reported and the services before it still stop', async () => {
    const { events, service } = recorder();
    const failures: string[] = [];
    const group = new ServiceGroup([service('database'), service('cloud', { failStop: true }), service('timers')], (name, err) =>
      failures.push(`${name}: ${err.message}`),
    );
    await group.start();
    await group.stop();
    assert.deepEqual(events.slice(3), ['stop timers', 'stop cloud', 'stop database']);
    assert.deepEqual(failures, ['cloud: cloud would not stop']);
  });

  it('a stop during start waits for the service starting, starts no more, and stops the started ones', async () => {
    const { events, service } = recorder();
    let release!: () => void;
    const hold = new Promise<void>((r) => {
      release = r;
    });
    const group = new ServiceGroup([service('database'), service('mdns', { hold }), service('timers')]);
    const started = group.start();
    await new Promise((r) => setImmediate(r));
    const stopped = group.stop();
    release();
    await started;
    await stopped;
    assert.deepEqual(events, ['start database', 'start mdns', 'stop mdns', 'stop database']);
  });
});

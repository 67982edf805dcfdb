// The bus between cloud instances (src/cloud/bus.ts): in process for one instance; over a real nats-server for
// several — what one instance publishes the other hears, and after the bus went away and came back (the server
// restarted under them) both reconnect by themselves and hear each other again.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InProcessBus, NatsBus } from '../../src/cloud/bus.js';
import { natsSkipReason, startNatsServer } from '../helpers/nats-server.js';
import { eventually } from '../helpers/test-node.js';

describe('the bus between cloud instances', () => {
  it('in process: subscribers hear what is published, until they unsubscribe', async () => {
    const bus = new InProcessBus();
    const got: string[] = [];
    const off = bus.subscribe('deliver.n1', (d) => got.push(d));
    bus.subscribe('deliver.n2', () => got.push('wrong'));
    bus.publish('deliver.n1', 'a');
    off();
    bus.publish('deliver.n1', 'b');
    assert.deepEqual(got, ['a']);
    assert.equal(bus.ready(), true);
  });

  it('over NATS: two instances hear each other, also after the bus restarted', { skip: natsSkipReason(), timeout: 60_000 }, async () => {
    const server = await startNatsServer();
    const one = await NatsBus.connect(server.url, 'instance-1');
    const two = await NatsBus.connect(server.url, 'instance-2');
    try {
      const got: string[] = [];
      one.subscribe('deliver.node-a', (d) => got.push(d));
      // The subscription reaches the server before the first publish counts.
      await eventually(() => {
        two.publish('deliver.node-a', 'ping');
        return got.length > 0;
      }, 'the subscription is in place');
      got.length = 0;
      two.publish('deliver.node-a', 'first');
      await eventually(() => got.includes('first'), 'the first message');

      await server.stop();
      await eventually(() => !one.ready() && !two.ready(), 'both see the bus gone');
      await server.start();
      await eventually(() => one.ready() && two.ready(), 'both reconnected', 30_000);
      await eventually(() => {
        two.publish('deliver.node-a', 'after');
        return got.includes('after');
      }, 'a message after the restart');
    } finally {
      await one.close();
      await two.close();
      await server.stop();
    }
  });
});

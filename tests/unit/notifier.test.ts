// Notifications degrade silently: no Notification API (the phone page over plain http) or a refusal means
// nothing is shown and nothing throws; the Salita window's own notify() is preferred when present; a page the
// person is looking at is never notified.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { notifyIfAway, notifyPermission } from '../../src/renderer/src/common/messages/notifier.js';

const g = globalThis as unknown as { window?: unknown; document?: unknown };

function page(opts: { visible: boolean; focused: boolean; win: Record<string, unknown> }) {
  g.document = { visibilityState: opts.visible ? 'visible' : 'hidden', hasFocus: () => opts.focused };
  g.window = opts.win;
}

function recording(permission: string) {
  const shown: unknown[] = [];
  const N = function (this: unknown, title: string, o?: { body?: string }) {
    shown.push({ title, body: o?.body });
  } as unknown as { permission: string; requestPermission: () => Promise<string> };
  N.permission = permission;
  N.requestPermission = async () => permission;
  return { N, shown };
}

describe('notifier', () => {
  afterEach(() => {
    delete g.window;
    delete g.document;
  });

  test('no Notification API: unsupported, and nothing happens', () => {
    page({ visible: false, focused: false, win: {} });
    assert.equal(notifyPermission(), 'unsupported');
    assert.doesNotThrow(() => notifyIfAway({ title: 'Ana', body: 'hi' }));
  });

  test('refused or not asked yet: nothing shown', () => {
    for (const p of ['denied', 'default']) {
      const { N, shown } = recording(p);
      page({ visible: false, focused: false, win: { Notification: N } });
      notifyIfAway({ title: 'Ana', body: 'hi' });
      assert.deepEqual(shown, []);
    }
  });

  test('granted: shown when hidden or not focused, never when the page is in front', () => {
    const { N, shown } = recording('granted');
    page({ visible: true, focused: true, win: { Notification: N } });
    notifyIfAway({ title: 'Ana', body: 'in front' });
    page({ visible: true, focused: false, win: { Notification: N } });
    notifyIfAway({ title: 'Ana', body: 'blurred' });
    page({ visible: false, focused: false, win: { Notification: N } });
    notifyIfAway({ title: 'Ana', body: 'hidden' });
    assert.deepEqual(shown, [
      { title: 'Ana', body: 'blurred' },
      { title: 'Ana', body: 'hidden' },
    ]);
  });

  test("the Salita window's notify() wins over the browser's", async () => {
    const { N, shown } = recording('granted');
    const bridged: unknown[] = [];
    page({ visible: false, focused: false, win: { Notification: N, salita: { notify: async (n: unknown) => void bridged.push(n) } } });
    assert.equal(notifyPermission(), 'granted');
    notifyIfAway({ title: 'Ana', body: 'hi' });
    assert.deepEqual(bridged, [{ title: 'Ana', body: 'hi' }]);
    assert.deepEqual(shown, []);
  });

  test('a browser that throws on new Notification (needs a service worker): swallowed', () => {
    const N = (() => {
      throw new TypeError('Illegal constructor');
    }) as unknown as { permission: string };
    N.permission = 'granted';
    page({ visible: false, focused: false, win: { Notification: N } });
    assert.doesNotThrow(() => notifyIfAway({ title: 'Ana', body: 'hi' }));
  });
});

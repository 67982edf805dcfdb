// Which icon a device gets, from its kind and what it reported when it paired.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deviceShape } from '../../src/renderer/src/common/device-icon.js';

describe('deviceShape', () => {
  test('the kind alone: a phone, else a desktop', () => {
    assert.equal(deviceShape('phone', undefined), 'phone');
    assert.equal(deviceShape('desktop', undefined), 'desktop');
    assert.equal(deviceShape(undefined, undefined), 'desktop');
  });

  test('the platform it reported refines it', () => {
    assert.equal(deviceShape('phone', { user_agent: 'Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)' }), 'tablet');
    assert.equal(deviceShape('phone', { form_factor: 'Tablet' }), 'tablet');
    assert.equal(deviceShape(undefined, { user_agent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile' }), 'phone');
    assert.equal(deviceShape('desktop', { model: 'MacBook Air' }), 'laptop');
    assert.equal(deviceShape('desktop', { platform: 'linux', hostname: 'iphone-named-box' }), 'desktop', 'only the known keys count');
  });

  test('values that are not text are ignored', () => {
    assert.equal(deviceShape('desktop', { platform: 42, model: null }), 'desktop');
  });
});

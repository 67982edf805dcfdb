// Contacts between households on the reference cloud (docs/cloud.md "Contacts"): three households on one cloud;
// an invite accepted makes two of them see and reach each other while the third sees nothing of either;
// removing the contact ends both; a forged, tampered, expired, reused or own invite is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { fingerprintOf } from '../../src/shared/fingerprint.js';
import { call, type Household, joinAccount, listed, relayAnswer, withCloud } from './account-helpers.js';

const otp = new MemoryOtpSender();
const codeOf = (id: string) => otp.codeFor(id);

describe('contacts between households', () => {
  it('invite, accept, see and reach each other; a third household sees nothing; remove ends it both ways', () =>
    withCloud({ otpSender: otp }, async (cloud) => {
      const ana = await joinAccount(cloud, 'ana@example.org', codeOf, 'Ana desktop');
      const bo = await joinAccount(cloud, 'bo@example.org', codeOf, 'Bo desktop');
      const cy = await joinAccount(cloud, 'cy@example.org', codeOf, 'Cy desktop');
      assert.equal(await relayAnswer(cloud, bo, ana), 'not_a_contact', 'strangers before the invite');

      const inv = await call(cloud, 'POST', '/api/invites', ana.token);
      assert.equal(inv.status, 200, JSON.stringify(inv.body));
      assert.equal(inv.body.fingerprint, fingerprintOf(Buffer.from(ana.id, 'base64url')), "the inviting node's key");
      assert.equal(inv.body.email, 'ana@example.org');
      const preview = await call(cloud, 'POST', '/api/invites/preview', bo.token, { token: inv.body.token });
      assert.equal(preview.status, 200, JSON.stringify(preview.body));
      assert.equal(preview.body.node, ana.id);
      assert.deepEqual(await listed(cloud, bo), [bo.device.id], 'a preview changes nothing');

      const ok = await call(cloud, 'POST', '/api/invites/accept', bo.token, {
        token: inv.body.token,
        fingerprint: inv.body.fingerprint,
      });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual(await listed(cloud, ana), [ana.device.id, bo.device.id].sort());
      assert.deepEqual(await listed(cloud, bo), [ana.device.id, bo.device.id].sort());
      assert.deepEqual(await listed(cloud, cy), [cy.device.id], 'the third household sees nothing of either');
      assert.equal(await relayAnswer(cloud, bo, ana), 'accepted');
      assert.equal(await relayAnswer(cloud, ana, bo), 'accepted');
      assert.equal(await relayAnswer(cloud, cy, ana), 'not_a_contact');
      const claim = await call(cloud, 'POST', `/api/keys/${encodeURIComponent(ana.device.id)}/prekeys/claim`, cy.token);
      assert.equal(claim.body.error, 'unknown_recipient');

      const mine = await call(cloud, 'GET', '/api/contacts', ana.token);
      assert.deepEqual(
        mine.body.contacts.map((x: { email: string; nodes: number }) => [x.email, x.nodes]),
        [['bo@example.org', 1]],
      );
      assert.deepEqual(mine.body.contacts[0].node_keys, [bo.id], "the contact's node keys: what its safety number covers");
      assert.deepEqual((await call(cloud, 'GET', '/api/contacts', cy.token)).body.contacts, []);

      // A second desktop joining Ana's household is seen by Bo at once: the contact is between households.
      const ana2 = await joinAccount(cloud, 'ana@example.org', codeOf, 'Ana laptop');
      assert.ok((await listed(cloud, bo)).includes(ana2.device.id));

      // Either side removes it: both directions end.
      const boAccount = mine.body.contacts[0].account_id as string;
      const rm = await call(cloud, 'DELETE', `/api/contacts/${boAccount}`, ana2.token);
      assert.equal(rm.status, 200, JSON.stringify(rm.body));
      assert.deepEqual(await listed(cloud, bo), [bo.device.id]);
      assert.deepEqual(await listed(cloud, ana), [ana.device.id, ana2.device.id].sort());
      assert.equal(await relayAnswer(cloud, bo, ana), 'not_a_contact');
      assert.equal(await relayAnswer(cloud, ana, bo), 'not_a_contact');
      const again = await call(cloud, 'DELETE', `/api/contacts/${boAccount}`, ana.token);
      assert.equal(again.status, 404);
      assert.equal(again.body.error, 'contact_not_found');
    }));

  it('refuses a forged, tampered, reused, own or expired invite, with nothing changed', () =>
    withCloud({ otpSender: otp, contactLimits: { inviteTtlMs: 1 } }, async (shortLived) => {
      const ana = await joinAccount(shortLived, 'ana@example.org', codeOf);
      const bo = await joinAccount(shortLived, 'bo@example.org', codeOf);
      const inv = await call(shortLived, 'POST', '/api/invites', ana.token);
      await new Promise((r) => setTimeout(r, 5));
      const expired = await call(shortLived, 'POST', '/api/invites/accept', bo.token, {
        token: inv.body.token,
        fingerprint: inv.body.fingerprint,
      });
      assert.equal(expired.status, 410, JSON.stringify(expired.body));
      assert.equal(expired.body.error, 'invite_expired');
      assert.deepEqual(await listed(shortLived, bo), [bo.device.id]);
    }).then(() =>
      withCloud({ otpSender: otp }, async (cloud) => {
        const ana = await joinAccount(cloud, 'ana@example.org', codeOf);
        const bo = await joinAccount(cloud, 'bo@example.org', codeOf);
        const cy = await joinAccount(cloud, 'cy@example.org', codeOf);
        const accept = (who: Household, body: unknown) => call(cloud, 'POST', '/api/invites/accept', who.token, body);
        const inv = await call(cloud, 'POST', '/api/invites', ana.token);

        // Forged: a token the cloud never issued (well-formed, or not).
        const forged = await accept(bo, { token: 'A'.repeat(43), fingerprint: inv.body.fingerprint });
        assert.equal(forged.status, 404);
        assert.equal(forged.body.error, 'invite_not_found');
        assert.equal((await accept(bo, { token: 'short', fingerprint: inv.body.fingerprint })).status, 400);

        // Tampered: the link's fingerprint names another key (someone swapped the invite, or the cloud lies).
        const otherFp = fingerprintOf(Buffer.from(cy.id, 'base64url'));
        const tampered = await accept(bo, { token: inv.body.token, fingerprint: otherFp });
        assert.equal(tampered.status, 409);
        assert.equal(tampered.body.error, 'invite_mismatch');
        assert.deepEqual(await listed(cloud, bo), [bo.device.id], 'nothing was accepted');

        // Own: Ana's household cannot accept its own invite.
        const ana2 = await joinAccount(cloud, 'ana@example.org', codeOf);
        assert.equal((await accept(ana2, { token: inv.body.token, fingerprint: inv.body.fingerprint })).body.error, 'invite_own_account');

        // The fingerprint compares without dashes and case; then the invite is used up.
        const lower = inv.body.fingerprint.toLowerCase().replace(/-/g, '');
        assert.equal((await accept(bo, { token: inv.body.token, fingerprint: lower })).status, 200);
        const reused = await accept(cy, { token: inv.body.token, fingerprint: inv.body.fingerprint });
        assert.equal(reused.status, 409);
        assert.equal(reused.body.error, 'invite_used');
        assert.deepEqual(await listed(cloud, cy), [cy.device.id], 'a reused invite gives Cy nothing');
      }),
    ));

  it('caps the open invites of a household', () =>
    withCloud({ otpSender: otp, contactLimits: { maxLiveInvites: 2 } }, async (cloud) => {
      const ana = await joinAccount(cloud, 'ana@example.org', codeOf);
      assert.equal((await call(cloud, 'POST', '/api/invites', ana.token)).status, 200);
      assert.equal((await call(cloud, 'POST', '/api/invites', ana.token)).status, 200);
      const over = await call(cloud, 'POST', '/api/invites', ana.token);
      assert.equal(over.status, 429);
      assert.equal(over.body.error, 'too_many_attempts');
    }));
});

describe('the invite link in a browser', () => {
  it('opens a page that says how to accept it in Salita, with no script allowed', () =>
    withCloud({ otpSender: otp }, async (cloud) => {
      const res = await fetch(`${cloud.url}/invite`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      assert.match(await res.text(), /Contacts/);
    }));
});

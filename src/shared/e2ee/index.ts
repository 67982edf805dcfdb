// End-to-end encrypted envelopes (docs/e2ee.md). Browser-safe.
export * from './errors.js';
export * from './schema.js';
export { seal, open, parseEnvelope, LABELS, contentAd, contentDigest, keyCommitment, wrapKey, wrapAd } from './envelope.js';
export type { Rng, SenderKeys, RecipientKey, SealOptions, OpenOptions, ContentFields, WrapContext } from './envelope.js';

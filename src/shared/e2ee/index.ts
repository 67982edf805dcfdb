// End-to-end encrypted envelopes (docs/e2ee.md). Browser-safe.

export type { ContentFields, OpenOptions, RecipientKey, Rng, SealOptions, SenderKeys, WrapContext } from './envelope.js';
export { contentAd, contentDigest, keyCommitment, LABELS, open, parseEnvelope, seal, wrapAd, wrapKey } from './envelope.js';
export * from './errors.js';
export * from './schema.js';

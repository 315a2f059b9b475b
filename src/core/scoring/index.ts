/** Scoring: features, the reference pair scores, risk and the fast-path rule (docs/scoring.md). */
export * from './hash.js';
export * from './features.js';
export * from './reference.js';
export * from './risk.js';

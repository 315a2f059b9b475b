/** The consensus core: a pure BFT replica, its message decoder and its certificate checks. */
export * from './types.js';
export * from './quorum.js';
export * from './digest.js';
export * from './decode.js';
export * from './certs.js';
export * from './tally.js';
export * from './config.js';
export * from './replica.js';

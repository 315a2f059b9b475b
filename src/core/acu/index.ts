/** The ACU model, canonical encoding and content ids. */
export * from './model.js';
export * from './canonical.js';
export * from './id.js';
export * from './decode.js';

#!/usr/bin/env node
// Thin launcher: loads the compiled CLI. Commands are lazy-loaded inside, so hooks start fast.
import { main } from '../dist/src/cli/main.js';

await main(process.argv.slice(2), { invokedAs: 'acu' });

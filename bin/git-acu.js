#!/usr/bin/env node
// `git acu ...` runs this when the package's bin directory is on PATH.
import { main } from '../dist/src/cli/main.js';

await main(process.argv.slice(2), { invokedAs: 'git acu' });

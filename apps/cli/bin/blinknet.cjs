#!/usr/bin/env node
// The CLI runs from its TypeScript sources through tsx (this repository has no build step).
require('tsx/cjs');
require('../src/main.ts');

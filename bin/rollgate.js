#!/usr/bin/env node
// The rollgate CLI: the same bundled actions a workflow runs, driven from a terminal.
import '../dist/cli/index.js';

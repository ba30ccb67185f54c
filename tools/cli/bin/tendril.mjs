#!/usr/bin/env node
// The `tendril` command. A committed shim, so that npm links it at install time, before the build
// has produced dist/ (build first: npm run build).
import '../dist/main.js';

#!/usr/bin/env node
// Writes k8s/base/nats/auth.conf from the contract's permissions (run after changing them; a test
// in test/manifests fails while the file is stale). Build first: npm run build.
import { writeFileSync } from 'node:fs';
import { natsAuthorizationConfig } from '@tendril/contract';

const file = new URL('../../k8s/base/nats/auth.conf', import.meta.url);
writeFileSync(file, `# Rendered from libs/contract/src/permissions.ts by: node tools/k8s/render-nats-auth.mjs (a test checks it is current)\n${natsAuthorizationConfig()}`);
console.log(`wrote ${file.pathname}`);

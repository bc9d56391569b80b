#!/usr/bin/env node
// Refuses, in one line, to run the service or its tests on a Node.js older than the one it supports (22.12).
// Plain JavaScript with no imports, so it runs (and says why) on any Node.js version.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `delegation-token-service needs Node.js >= 22.12 (found ${process.versions.node}); see README "Quick start" for a one-line Node 22 install\n`,
  );
  process.exit(1);
}

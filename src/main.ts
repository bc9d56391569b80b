// Entry point. Refuses an unsupported Node.js in one line before anything else loads (oidc-provider 9 needs 22.12+),
// then loads the process entry (server.ts). No static imports here: they would load before this check runs.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`delegation-token-service needs Node.js >= 22.12 (found ${process.versions.node}); see README "Quick start"\n`);
  process.exit(2);
}
await import('./server.js');

// Drives mcp-remote (the stdio-to-remote bridge that desktop MCP clients such as Claude Desktop launch) as such a client
// does: newline-delimited JSON-RPC on its stdin and stdout. scripts/mcp_inspector_check.sh runs it.
//
//   node scripts/mcp_remote_drive.mjs <path of mcp-remote's proxy.js> <MCP server URL> [lookup-only]
//
// mcp-remote signs in through $BROWSER on its own. Prints one JSON line: what initialize, tools/list and two tools/call
// answered (lookup_customer, then issue_refund unless `lookup-only`); exits 1 if an answer does not come within 60 s.
const [proxy, url, mode] = process.argv.slice(2);
const { spawn } = await import('node:child_process');
const child = spawn(process.execPath, [proxy, url], { stdio: ['pipe', 'pipe', 'pipe'] });
let stderr = '';
child.stderr.on('data', (d) => (stderr += d));
let buffered = '';
const waiting = new Map();
child.stdout.on('data', (chunk) => {
  buffered += chunk;
  for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
    const line = buffered.slice(0, end).trim();
    buffered = buffered.slice(end + 1);
    if (!line) continue;
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      // Not a JSON-RPC message (the bridge's own output): kept for the timeout report, never an answer.
      stderr += `[stdout] ${line}\n`;
      continue;
    }
    waiting.get(message.id)?.(message);
    waiting.delete(message.id);
  }
});
const timer = setTimeout(() => {
  console.error(`no answer within 60 s; mcp-remote said: ${stderr.slice(-800)}`);
  child.kill();
  process.exit(1);
}, 60_000);
let nextId = 1;
const request = (method, params) =>
  new Promise((resolve) => {
    const id = nextId++;
    waiting.set(id, resolve);
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
  });

const initialize = await request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcp_remote_drive', version: '1' } });
child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
const list = await request('tools/list', {});
const lookup = await request('tools/call', { name: 'lookup_customer', arguments: { customerId: 'c-42' } });
const refund = mode === 'lookup-only' ? undefined : await request('tools/call', { name: 'issue_refund', arguments: { customerId: 'c-42', amount: 10 } });
clearTimeout(timer);
child.kill();
console.log(
  JSON.stringify({
    server: initialize.result?.serverInfo?.name ?? null,
    tools: list.result?.tools?.map((t) => t.name) ?? null,
    lookup: lookup.result?.content?.[0]?.text ?? null,
    refund: refund?.error ?? refund?.result ?? null,
  }),
);

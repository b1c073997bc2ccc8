/**
 * Case (a), the ceiling: a bare node:http server that reads the POSTed body and answers a fixed
 * principal — the very bytes Tessera answers for an API key (passed in BENCH_BODY). No routing,
 * no authentication, no lookup: what loopback HTTP itself costs on this machine.
 */
import { createServer } from 'node:http';
import { failTarget, serveTarget } from './ipc.ts';

const body = Buffer.from(process.env['BENCH_BODY'] ?? '', 'utf8');
if (body.length === 0) failTarget(new Error('BENCH_BODY (the principal JSON to answer) is empty'));
const length = String(body.length);

const server = createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  // Read the form like any server must before answering (the bytes are not looked at).
  req.on('data', () => undefined);
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': length, 'Cache-Control': 'no-store' });
    res.end(body);
  });
});

await serveTarget(server).catch(failTarget);

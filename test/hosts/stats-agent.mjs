// A tiny stats fetcher run inside one test host's network namespace
// (`ip netns exec NS node stats-agent.mjs`): the relay's metrics port is on
// that namespace's loopback, which the test process cannot reach.
// stdin: one JSON request per line {"id": N, "url": "http://127.0.0.1:P/stats.json"}.
// stdout: one JSON answer per line {"id": N, "status": 200, "body": "..."} or {"id": N, "error": "..."}.
// Each fetch gives up after 2 s (a frozen relay never answers). Exits when stdin ends.
import { createInterface } from 'node:readline';

const TIMEOUT_MS = 2000;
const rl = createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  let req;
  try {
    req = JSON.parse(line);
  } catch {
    return;
  }
  const id = req.id;
  try {
    const res = await fetch(String(req.url), { signal: AbortSignal.timeout(TIMEOUT_MS) });
    const body = await res.text();
    process.stdout.write(JSON.stringify({ id, status: res.status, body }) + '\n');
  } catch (err) {
    process.stdout.write(JSON.stringify({ id, error: String(err && err.message ? err.message : err) }) + '\n');
  }
});
rl.on('close', () => process.exit(0));

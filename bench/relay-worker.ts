/**
 * A node process of the relay benchmark (bench/relay.ts forks it with
 * `<role> <name>`): a Router listening on 127.0.0.1 (bench/relay-node.ts);
 * a relay connects upstream when told; the server reports its stream count.
 *
 * It exits when the parent says `exit`, when the parent goes away (IPC
 * disconnect), or after MAX_LIFETIME_MS whatever happens.
 */
import { startNode } from './relay-node.ts';
import { wallNow, type ChildMessage, type NodeRole, type ParentMessage } from './relay-shared.ts';

const MAX_LIFETIME_MS = 3 * 60_000;

function send(m: ChildMessage): void {
  process.send?.(m);
}

function fail(err: unknown): void {
  send({ type: 'error', message: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
}

if (process.send === undefined) {
  process.stderr.write('relay-worker: run by bench/relay.ts (needs an IPC channel)\n');
  process.exit(2);
}
setTimeout(() => process.exit(3), MAX_LIFETIME_MS).unref();
process.on('disconnect', () => process.exit(0));

const role = process.argv[2] as NodeRole;
const name = process.argv[3] ?? role;
if (role !== 'server' && role !== 'relay') {
  fail(new Error(`relay-worker: unknown role ${String(role)}`));
  process.exit(2);
}

const node = await startNode(role, name, true);
process.on('message', (m: ParentMessage) => {
  switch (m.type) {
    case 'exit':
      process.exit(0);
      break;
    case 'connect':
      node.connectTcp(m.port, m.noWait).then((relays) => send({ type: 'connected', relays }), fail);
      break;
    case 'count':
      send({ type: 'count', count: node.counter?.count ?? 0, t: wallNow() });
      break;
  }
});
send({ type: 'listening', port: node.port });

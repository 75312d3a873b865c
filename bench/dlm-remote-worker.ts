/**
 * The second process of the two-process DLM benchmark (bench/dlm-remote.ts
 * forks it): a Router listening on 127.0.0.1, midcomms, a DLM node that
 * masters (and is the directory of) every resource the parent locks, and
 * the echo service of the raw baseline. On `contend` it locks the contended
 * resource itself for the time given, against the parent.
 *
 * It exits when the parent says `exit`, when the parent goes away (IPC
 * disconnect), or after MAX_LIFETIME_MS whatever happens.
 */
import { listenTcp } from '../src/transport/tcp.ts';
import { HOPS_ON, HopTimer } from './hop-timer.ts';
import { BenchDlmNode, HOT, cyclesUntil, wallNow, type ParentMessage, type WorkerMessage } from './dlm-remote-shared.ts';

const MAX_LIFETIME_MS = 5 * 60_000;

function send(m: WorkerMessage): void {
  process.send?.(m);
}

function fail(err: unknown): void {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
}

if (process.send === undefined) {
  process.stderr.write('dlm-remote-worker: run by bench/dlm-remote.ts (needs an IPC channel)\n');
  process.exit(2);
}
setTimeout(() => process.exit(3), MAX_LIFETIME_MS).unref();
process.on('disconnect', () => process.exit(0));

const node = new BenchDlmNode('dlm-master');
const hops = HOPS_ON ? new HopTimer() : null;
const server = await listenTcp({ host: '127.0.0.1', port: 0 }, (sock) => {
  hops?.wrap(sock);
  void node.router.attach(sock);
});

process.on('message', (m: ParentMessage) => {
  switch (m.type) {
    case 'exit':
      void node
        .close()
        .catch(() => {})
        .finally(() => server.close().finally(() => process.exit(0)));
      break;
    case 'lockspace':
      try {
        node.join(m.members, m.dirIndex);
        node.pinAll().then(() => send({ type: 'ready' }), fail);
      } catch (err) {
        fail(err);
      }
      break;
    case 'hops': {
      const summary = hops?.summary() ?? { hops: 0, medianUs: NaN, meanUs: NaN };
      hops?.reset();
      send({ type: 'hops', summary });
      break;
    }
    case 'contend': {
      const ls = node.ls;
      if (ls === null) {
        send({ type: 'contended', cycles: 0, error: 'no lockspace' });
        break;
      }
      cyclesUntil(ls, [HOT], wallNow() + m.ms / 1000, true).then(
        (cycles) => send({ type: 'contended', cycles }),
        (err: unknown) => send({ type: 'contended', cycles: 0, error: err instanceof Error ? err.message : String(err) }),
      );
      break;
    }
  }
});
send({ type: 'listening', port: server.address().port, node: node.router.nodeId });

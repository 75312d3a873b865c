/** Two iocoms joined by an in-memory link or loopback TCP. */
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { firstValueFrom, toArray, type Observable } from 'rxjs';
import { Iocom } from '../../src/iocom/iocom.ts';
import type { IocomOptions } from '../../src/iocom/options.ts';
import { memoryPair } from '../../src/transport/memory.ts';
import { connectTcp, listenTcp } from '../../src/transport/tcp.ts';

export type PairKind = 'memory' | 'tcp';

export interface IocomPair {
  a: Iocom;
  b: Iocom;
  streams: [Duplex, Duplex];
  close(): Promise<void>;
}

const QUIET: IocomOptions = { pingIntervalMs: 0, linkTimeoutMs: 0 };

/** Two connected stream ends (memory or loopback TCP) and a function that stops the TCP server. */
export async function streamPair(kind: PairKind): Promise<{ streams: [Duplex, Duplex]; stopServer: () => Promise<void> }> {
  if (kind === 'memory') return { streams: memoryPair(), stopServer: async () => {} };
  let accepted!: (s: Duplex) => void;
  const acceptedP = new Promise<Duplex>((r) => (accepted = r));
  const server = await listenTcp({ host: '127.0.0.1', port: 0 }, (s) => accepted(s));
  const client = await connectTcp({ host: '127.0.0.1', port: server.address().port });
  return { streams: [client, await acceptedP], stopServer: () => server.close() };
}

export async function iocomPair(kind: PairKind, aOpts: IocomOptions = {}, bOpts: IocomOptions = {}): Promise<IocomPair> {
  const { streams, stopServer } = await streamPair(kind);
  const a = new Iocom(streams[0], { name: 'a', ...QUIET, ...aOpts });
  const b = new Iocom(streams[1], { name: 'b', ...QUIET, ...bOpts });
  return {
    a,
    b,
    streams,
    async close() {
      a.destroy();
      b.destroy();
      await stopServer();
    },
  };
}

export function collect<T>(o: Observable<T>): Promise<T[]> {
  return firstValueFrom(o.pipe(toArray()));
}

export async function closedReason(io: Iocom): Promise<unknown> {
  return firstValueFrom(io.closed$);
}

export { once };

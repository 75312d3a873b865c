/** bench/hop-timer.ts: which writes count as a hop, windows, the summary. */
import type { Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { HopTimer } from '../../bench/hop-timer.ts';
import { readSocketInto } from '../../src/iocom/socket-reader.ts';
import { connectTcp, listenTcp } from '../../src/transport/tcp.ts';

/** The two members HopTimer wraps: emit (from EventEmitter) and write. */
function fakeSocket(): { sock: Socket; written: unknown[]; data: unknown[] } {
  const written: unknown[] = [];
  const data: unknown[] = [];
  const e = new EventEmitter() as EventEmitter & { write(chunk: unknown): boolean };
  e.write = (chunk: unknown): boolean => {
    written.push(chunk);
    return true;
  };
  e.on('data', (d) => data.push(d));
  return { sock: e as unknown as Socket, written, data };
}

describe('bench/hop-timer', () => {
  it('a hop is a data event and the next write; writes without data before them and other events do not count', () => {
    const { sock, written, data } = fakeSocket();
    const t = new HopTimer();
    t.wrap(sock);
    sock.write('a'); // nothing received yet
    sock.emit('data', 'x');
    sock.write('b'); // hop 1
    sock.write('c'); // a second write for the same data: not a hop
    sock.emit('drain');
    sock.write('d');
    sock.emit('data', 'y');
    sock.emit('data', 'z'); // the later data event starts the hop
    sock.write('e'); // hop 2
    expect(written).toEqual(['a', 'b', 'c', 'd', 'e']); // every write still reaches the socket
    expect(data).toEqual(['x', 'y', 'z']); // every event still reaches its listeners
    const s = t.summary();
    expect(s.hops).toBe(2);
    expect(s.medianUs).toBeGreaterThanOrEqual(0);
    expect(s.meanUs).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(s.medianUs) && Number.isFinite(s.meanUs)).toBe(true);
  });

  it('reset() starts a new window; an empty window has no median or mean', () => {
    const { sock } = fakeSocket();
    const t = new HopTimer();
    t.wrap(sock);
    sock.emit('data', 'x');
    sock.write('b');
    t.reset();
    const empty = t.summary();
    expect(empty.hops).toBe(0);
    expect(empty.medianUs).toBeNaN();
    expect(empty.meanUs).toBeNaN();
    for (let i = 0; i < 3; i++) {
      sock.emit('data', i);
      sock.write(String(i));
    }
    expect(t.summary().hops).toBe(3);
  });

  it('times a socket read through the reused-buffer reader (no data event): each read and the next write is a hop', async () => {
    let accepted!: (s: Socket) => void;
    const got = new Promise<Socket>((r) => (accepted = r));
    const server = await listenTcp({ host: '127.0.0.1', port: 0 }, (s) => accepted(s as Socket));
    const client = await connectTcp({ host: '127.0.0.1', port: server.address().port });
    try {
      const sock = await got;
      const t = new HopTimer();
      t.wrap(sock); // before the reader is installed, as the benchmark does
      let reads = 0;
      expect(readSocketInto(sock, (chunk) => {
        reads++;
        sock.write(chunk); // echo: the reply write ends the hop
        return false;
      })).toBe(true);
      const N = 20;
      for (let i = 0; i < N; i++) {
        const echoed = new Promise<void>((r) => client.once('data', () => r()));
        client.write(new Uint8Array([i]));
        await echoed;
      }
      expect(reads).toBe(N);
      const s = t.summary();
      expect(s.hops).toBe(N);
      expect(Number.isFinite(s.meanUs)).toBe(true);
    } finally {
      client.destroy();
      await server.close();
    }
  });
});

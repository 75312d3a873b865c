/**
 * The child process of the iocom benchmark (bench/iocom.ts forks it). For
 * each `serve` request it listens on 127.0.0.1, port 0, accepts ONE
 * connection and plays its role on it until the parent closes it.
 *
 * It exits when the parent says `exit`, when the parent goes away (IPC
 * disconnect), or after MAX_LIFETIME_MS whatever happens.
 */
import net from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { Iocom } from '../src/iocom/iocom.ts';
import type { Transaction } from '../src/iocom/transaction.ts';
import { FrameDecoder } from '../src/wire/frame-decoder.ts';
import type { Message } from '../src/wire/message.ts';
import {
  CMD,
  HIGH_WATER,
  IOCOM_OPTIONS,
  oneWayFrames,
  onRawChunks,
  payload,
  perTick,
  RAW_REPLY_CMD,
  RAW_REQUEST_CMD,
  replyFrames,
  writeRawHeader,
  type ParentMessage,
  type WorkerMessage,
  type WorkerRole,
} from './iocom-shared.ts';

const MAX_LIFETIME_MS = 5 * 60_000;

function send(m: WorkerMessage): void {
  process.send?.(m);
}

function fail(err: unknown): void {
  send({ type: 'error', message: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
}

/** One-way sender through the iocom: up to one tick's worth per turn, waiting while not writable. */
async function iocomSend(sock: net.Socket, auxBytes: number): Promise<void> {
  const io = new Iocom(sock, IOCOM_OPTIONS);
  const opts = auxBytes > 0 ? { aux: payload(auxBytes) } : {};
  const n = perTick(auxBytes);
  while (io.isOpen) {
    if (!io.writable) {
      await io.whenWritable();
      continue;
    }
    for (let i = 0; i < n; i++) if (!io.sendOneWay(CMD, opts)) break;
    await turn();
  }
}

/** Resolves on 'drain' or when the socket is gone (so a closed socket never hangs the loop). */
function drained(sock: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    sock.on('drain', done);
    sock.on('close', done);
  });
}

/** Raw baseline sender: the same bytes (pre-encoded, CRCs done), one write per turn, same high-water mark. */
async function rawSend(sock: net.Socket, auxBytes: number): Promise<void> {
  const block = oneWayFrames(perTick(auxBytes), auxBytes > 0 ? payload(auxBytes) : undefined);
  sock.on('error', () => {});
  while (!sock.destroyed && sock.writable) {
    if (sock.writableLength >= HIGH_WATER) {
      await drained(sock);
      continue;
    }
    sock.write(block);
    await turn();
  }
}

/**
 * Answers one transaction: `reply(0)` when the peer's DELETE completes rx$.
 * A class rather than a closure per transaction: tsx wraps every closure it
 * creates in a naming helper, a cost compiled code would not have.
 */
class Replier {
  readonly #tx: Transaction;
  constructor(tx: Transaction) {
    this.#tx = tx;
  }
  complete(): void {
    this.#tx.reply(0);
  }
  error(): void {}
}

/** Round-trip server through the iocom: every transaction the peer opens gets `reply(0)` on its DELETE. */
function iocomServe(sock: net.Socket): void {
  const io = new Iocom(sock, IOCOM_OPTIONS);
  io.transactions$.subscribe((tx) => {
    tx.rx$.subscribe(new Replier(tx));
  });
}

/** Raw round-trip server: decode (+CRC checks), write one pre-encoded reply per request, one write per read. */
function rawServe(sock: net.Socket): void {
  const MAX = 256;
  const replies = replyFrames(MAX);
  const dec = new FrameDecoder();
  const out: Message[] = [];
  sock.on('error', () => {});
  onRawChunks(sock, (chunk: Uint8Array) => {
    try {
      dec.pushInto(chunk, out);
    } catch (err) {
      fail(err);
      sock.destroy();
      return;
    }
    let k = out.length;
    out.length = 0;
    if (k <= MAX) {
      if (k > 0) sock.write(replies.subarray(0, k * 64));
      return;
    }
    const all = Buffer.allocUnsafe(k * 64);
    for (let o = 0; k > 0; k -= Math.min(k, MAX)) o += replies.copy(all, o, 0, Math.min(k, MAX) * 64);
    sock.write(all);
  });
}

/**
 * Like-for-like raw server: what a minimal hand-written server does per
 * request: decode (+CRC checks), check the sequence number and the flags,
 * then encode a reply with the request's msgid, its own sequence number and
 * CRC; one write per read.
 */
function rawServeL4L(sock: net.Socket): void {
  const dec = new FrameDecoder();
  const out: Message[] = [];
  let rxSeq = 0;
  let txSeq = 0;
  sock.on('error', () => {});
  onRawChunks(sock, (chunk: Uint8Array) => {
    try {
      dec.pushInto(chunk, out);
    } catch (err) {
      fail(err);
      sock.destroy();
      return;
    }
    const k = out.length;
    if (k === 0) return;
    const b = Buffer.alloc(k * 64);
    for (let i = 0; i < k; i++) {
      const h = out[i]!.header;
      if ((h.salt & 0xff) !== rxSeq || h.cmd !== RAW_REQUEST_CMD) {
        fail(new Error(`raw-serve-l4l: unexpected request seq ${h.salt & 0xff} (want ${rxSeq}) cmd ${h.cmd.toString(16)}`));
        sock.destroy();
        return;
      }
      rxSeq = (rxSeq + 1) & 0xff;
      txSeq = writeRawHeader(b, i * 64, txSeq, Number(h.msgid), RAW_REPLY_CMD);
    }
    out.length = 0;
    sock.write(b);
  });
}

function play(role: WorkerRole, sock: net.Socket, auxBytes: number): void {
  switch (role) {
    case 'iocom-send':
      iocomSend(sock, auxBytes).catch(fail);
      return;
    case 'raw-send':
      rawSend(sock, auxBytes).catch(fail);
      return;
    case 'iocom-serve':
      iocomServe(sock);
      return;
    case 'raw-serve':
      rawServe(sock);
      return;
    case 'raw-serve-l4l':
      rawServeL4L(sock);
      return;
  }
}

function serve(role: WorkerRole, auxBytes: number): void {
  const server = net.createServer({ noDelay: true }, (sock) => {
    server.close(); // one connection per case
    sock.setNoDelay(true);
    try {
      play(role, sock, auxBytes);
    } catch (err) {
      fail(err);
    }
  });
  server.on('error', fail);
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    if (a === null || typeof a === 'string') return fail(new Error('no TCP address'));
    send({ type: 'listening', port: a.port });
  });
}

if (process.send === undefined) {
  process.stderr.write('iocom-worker: run by bench/iocom.ts (needs an IPC channel)\n');
  process.exit(2);
}
setTimeout(() => process.exit(3), MAX_LIFETIME_MS).unref();
process.on('disconnect', () => process.exit(0));
process.on('message', (m: ParentMessage) => {
  if (m.type === 'exit') process.exit(0);
  else if (m.type === 'cpu') {
    const u = process.cpuUsage();
    send({ type: 'cpu', us: u.user + u.system });
  }
  else if (m.type === 'serve') serve(m.role, m.auxBytes);
});
send({ type: 'ready' });

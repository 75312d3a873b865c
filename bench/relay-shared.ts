/**
 * What the relay benchmark's processes share: the service and command, the
 * router options, the chain nodes (server and relays, bench/relay-node.ts)
 * and the IPC messages between the bench (parent) and its node processes.
 */
import { DMSG } from '../src/wire/constants.ts';
import type { IocomOptions } from '../src/iocom/options.ts';

/** The service the server advertises. */
export const SERVICE = 'relay-bench';
/** The command of the benchmarked transactions and their messages: a 64-byte header, no ext. */
export const CMD = DMSG.DBG_SHELL;
/** Keepalive off: the benchmark measures messages, not timers. */
export const IOCOM_OPTIONS: IocomOptions = Object.freeze({ pingIntervalMs: 0, linkTimeoutMs: 0 });
/** Messages a one-way sender queues per event-loop turn (128 KiB of 64-byte messages) before yielding. */
export const PER_TURN = 2048;

/** A node of the chain: `server` advertises SERVICE and answers; `relay` only relays. */
export type NodeRole = 'server' | 'relay';

export type ParentMessage =
  /** Dial 127.0.0.1:port; `noWait`: answer once attached, without waiting for the span (the server dialling a foreign hub). */
  | { type: 'connect'; port: number; noWait?: boolean }
  | { type: 'count' }
  | { type: 'exit' };

export type ChildMessage =
  | { type: 'listening'; port: number }
  /** A relay is connected upstream and sees the span `relays` relays away (between it and the server). */
  | { type: 'connected'; relays: number }
  /** The server's count of messages received in stream transactions, at wall time `t` (s). */
  | { type: 'count'; count: number; t: number }
  | { type: 'error'; message: string };

/** Wall clock in seconds. */
export const wallNow = (): number => Number(process.hrtime.bigint()) / 1e9;

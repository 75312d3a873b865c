/** diagnostics_channel events for embedders: link up/down, span up/down, protocol error, filtered by router name. */
import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CHANNELS } from '../../src/cli/ops/diagnostics.ts';
import { Relays, waitFor } from './helpers.ts';

const relays = new Relays();
const unsubscribe: Array<() => void> = [];
afterEach(async () => {
  for (const u of unsubscribe.splice(0)) u();
  await relays.stopAll();
});

function record(): Array<{ channel: string; msg: Record<string, unknown> }> {
  const seen: Array<{ channel: string; msg: Record<string, unknown> }> = [];
  for (const name of Object.values(CHANNELS)) {
    const fn = (msg: unknown): void => {
      seen.push({ channel: name, msg: msg as Record<string, unknown> });
    };
    diagnostics.subscribe(name, fn);
    unsubscribe.push(() => diagnostics.unsubscribe(name, fn));
  }
  return seen;
}

describe('diagnostics_channel events', () => {
  it('link up/down, span up/down and protocol errors, each naming its router', async () => {
    const seen = record();
    const a = await relays.start({ name: 'DA', listen: ['127.0.0.1:0'] });
    const b = await relays.start({ name: 'DB', connect: [a.addresses[0]!], advertise: ['svc/x'] });
    const of = (router: string, channel: string): Array<Record<string, unknown>> => seen.filter((e) => e.channel === channel && e.msg['router'] === router).map((e) => e.msg);
    await waitFor(() => of('DA', CHANNELS.spanUp).length > 0, 'DA span up');
    expect(of('DA', CHANNELS.linkUp)[0]).toMatchObject({ connId: 'c1', transport: 'tcp', direction: 'in', nodeId: a.router.nodeId });
    expect(of('DB', CHANNELS.linkUp)[0]).toMatchObject({ transport: 'tcp', direction: 'out' });
    expect(of('DA', CHANNELS.spanUp)[0]).toMatchObject({ service: 'svc', instance: 'x', dist: 0, path: [b.router.nodeId] });

    b.disconnect(b.peers[0]!.target);
    await waitFor(() => of('DA', CHANNELS.linkDown).length > 0 && of('DA', CHANNELS.spanDown).length > 0, 'DA link and span down');
    const down = of('DA', CHANNELS.linkDown)[0]!;
    expect(down).toMatchObject({ connId: 'c1', peerName: 'DB' });
    // The cut destroys DB's socket: DA sees an end or a reset, depending on the kernel's timing.
    expect([['peer-closed', null], ['closed', null], ['error', 'STREAM_ERROR']]).toContainEqual([down['reason'], down['code']]);

    const [host, port] = a.addresses[0]!.split(':');
    const s = net.connect({ host: host!, port: Number(port) });
    s.resume();
    s.on('connect', () => s.write(new Uint8Array(64).fill(0x41)));
    await waitFor(() => of('DA', CHANNELS.protocolError).length > 0, 'a protocol error');
    expect(of('DA', CHANNELS.protocolError)[0]).toMatchObject({ connId: 'c2', code: 'BAD_MAGIC' });
    expect(of('DA', CHANNELS.linkDown)[1]).toMatchObject({ connId: 'c2', reason: 'error', code: 'BAD_MAGIC' });
    s.destroy();
  });

  it('builds no message without subscribers', async () => {
    expect(diagnostics.channel(CHANNELS.linkUp).hasSubscribers).toBe(false);
    const a = await relays.start({ name: 'DC', listen: ['127.0.0.1:0'] });
    const b = await relays.start({ name: 'DD', connect: [a.addresses[0]!] });
    await waitFor(() => b.router.links.some((l) => l.peerNodeId !== null), 'DD linked');
    expect(a.ops.observer.stats().totals.linksUp).toBe(1);
  });
});

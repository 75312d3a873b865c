/**
 * The sender knows a fence from a flag of its own (Sender.fence, set by the
 * FIN driver as the session is fenced), not from a getter of the session
 * per message: every way of sending refuses with CLOSED once fenced, senders
 * waiting for room fail with FENCED and are never let in, and nothing more
 * is written.
 */
import { describe, expect, it } from 'vitest';
import { msg, twoNodes } from './fake-net.ts';

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('a fenced session refuses every send', () => {
  it('send, sendAcked, post and tryPost after close(): CLOSED; waiters for room: FENCED; nothing written after the fence', async () => {
    const { net, a, b } = twoNodes({ a: { windowMessages: 2 } });
    await a.send(msg(1));
    net.settle();
    b.pauseReading();
    // Fill the window (nothing acknowledged while b does not read), then two wait for room.
    expect(a.tryPost(msg(2), () => {})).toBe(true);
    expect(a.tryPost(msg(3), () => {})).toBe(true);
    expect(a.tryPost(msg(4), () => {})).toBe(false);
    const waiting = [a.send(msg(5)), a.send(msg(6))];
    const outcomes = waiting.map((p) => p.then(() => 'committed', (e: { code?: string }) => e.code));
    expect(a.waiting).toBe(2);
    const sentBefore = a.stats().framesSent;
    a.close();
    expect(await Promise.all(outcomes)).toEqual(['FENCED', 'FENCED']);
    expect(a.waiting).toBe(0);
    const errors: string[] = [];
    const onError = (e: Error): void => {
      errors.push((e as Error & { code: string }).code);
    };
    a.post(msg(7), onError);
    // A refused message counts as handled (true), its reason goes to onError.
    expect(a.tryPost(msg(8), onError)).toBe(true);
    await expect(a.send(msg(9))).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(a.sendAcked(msg(10))).rejects.toMatchObject({ code: 'CLOSED' });
    await flush();
    expect(errors).toEqual(['CLOSED', 'CLOSED']);
    net.settle();
    expect(a.stats().framesSent).toBe(sentBefore);
    expect(a.stats().sent).toBe(3);
  });
});

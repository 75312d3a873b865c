/**
 * A Unix socket file left behind by a relay that was killed (SIGKILL, a
 * crash) makes the next bind fail with EADDRINUSE although nobody listens.
 * Before binding, `dmsg relay` tries to connect to such a file: refused means
 * it is stale and is removed; an answer means another process listens there.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { CommandError } from './command.ts';

/** What clearStaleSocket found. */
export type StaleSocketResult = 'absent' | 'removed';

/**
 * Remove `path` if it is a Unix socket nobody listens on. Resolves 'absent'
 * when there is no socket file; throws CommandError ADDRESS_IN_USE when a
 * process accepts connections there, and leaves other files alone (the bind
 * then reports them).
 */
export async function clearStaleSocket(path: string, timeoutMs = 1000): Promise<StaleSocketResult> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return 'absent';
  }
  if (!isSocket) return 'absent';
  const live = await new Promise<boolean>((resolve) => {
    const s = net.connect({ path });
    const timer = setTimeout(() => { s.destroy(); resolve(true); }, timeoutMs);
    s.once('connect', () => { clearTimeout(timer); s.destroy(); resolve(true); });
    s.once('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'); });
  });
  if (live) throw new CommandError('ADDRESS_IN_USE', `unix:${path}: another process is listening on this socket`);
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CommandError('ADDRESS_IN_USE', `unix:${path}: stale socket cannot be removed: ${(err as Error).message}`, { cause: err });
  }
  return 'removed';
}

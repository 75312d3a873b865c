/**
 * LockingGate ordering (the contract's setGate + §4.8): after recovery,
 * saved messages replay first, then recovery's after-replay step (phase 8:
 * re-send the waiters), then the API calls deferred meanwhile. Found by the
 * fault test (seed 1013): a cancel deferred behind a closed lease gate ran
 * inside the replay of a saved message (that message's own gate check found
 * the gate open and flushed again), i.e. before phase 8 re-sent the lock's
 * conversion, which was then granted with no requested mode (an overlap).
 */
import { describe, expect, it } from 'vitest';
import { LockingGate } from '../../../../src/services/dlm/recovery/locking-gate.ts';
import type { SavedMessage } from '../../../../src/services/dlm/recovery/purge.ts';

function setup() {
  const log: string[] = [];
  let open = false;
  // replayOne behaves like Lockspace.receive: it checks the gate first.
  const gate: LockingGate = new LockingGate(
    (m) => {
      if (gate.stopped || (gate.gate !== null && gate.blocked())) {
        gate.saved.push(m);
        return;
      }
      log.push(`msg ${m.from}`);
    },
    () => {},
    (err) => {
      throw err;
    },
  );
  gate.setGate(() => open);
  const msg = (from: number): SavedMessage => ({ from, bytes: new Uint8Array(0) });
  const call = (name: string): void => {
    if (gate.stopped || (gate.gate !== null && gate.blocked())) gate.deferred.push(() => log.push(name));
    else log.push(name);
  };
  return { gate, log, msg, call, setOpen: (v: boolean) => void (open = v) };
}

describe('LockingGate: replay order after a closed gate and a recovery', () => {
  it('saved messages, then the after-replay step, then deferred calls (no nested flush from a replayed message)', () => {
    const t = setup();
    t.call('cancel'); // the lease gate is closed: deferred, and the gate notes held work
    t.gate.saved.push(t.msg(1));
    t.gate.stopped = true; // stop() and a recovery
    t.gate.saved.push(t.msg(2));
    t.setOpen(true); // the lease is renewed under the new view
    t.gate.resume(() => t.log.push('after'));
    expect(t.log).toEqual(['msg 1', 'msg 2', 'after', 'cancel']);
    expect(t.gate.deferred).toHaveLength(0);
    expect(t.gate.saved).toHaveLength(0);
  });

  it('resume behind a closed gate: the after-replay step waits for the gate, then runs once, before deferred calls', () => {
    const t = setup();
    t.gate.stopped = true;
    t.call('req');
    t.gate.resume(() => t.log.push('after'));
    expect(t.log).toEqual([]);
    t.setOpen(true);
    t.gate.setGate(t.gate.gate);
    expect(t.log).toEqual(['after', 'req']);
    t.gate.setGate(t.gate.gate);
    expect(t.log).toEqual(['after', 'req']);
  });

  it('a newer recovery replaces the after-replay step of one that waited behind the gate', () => {
    const t = setup();
    t.gate.stopped = true;
    t.gate.resume(() => t.log.push('after-1')); // gate closed: waits
    t.gate.stopped = true; // stop + start again (the first run is stale)
    t.setOpen(true);
    t.gate.resume(() => t.log.push('after-2'));
    t.gate.setGate(t.gate.gate);
    expect(t.log).toEqual(['after-2']);
  });
});

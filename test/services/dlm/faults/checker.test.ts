/**
 * The history checker on hand-made histories: a clean one passes, and each
 * kind of violation (overlap, fencing order, lost lock, an operation never
 * completed after the heal, an LVB violation, an impossible completion) is
 * caught, including the subtle cases (a killed holder counts until the view
 * that excludes it; a cut-off holder until its lease ended).
 */
import { describe, expect, it } from 'vitest';
import { checkHistory, compatibleModes, describeViolations, lvbOp } from '../../../helpers/dlm-history-checker.ts';
import type { HMode, HistoryEvent } from '../../../helpers/dlm-history-types.ts';

/** A small builder: each call appends one event at the current time. */
function hist(prefix = 'o') {
  const ev: HistoryEvent[] = [];
  let t = 0;
  let ops = 0;
  return {
    ev,
    at(time: number) {
      t = time;
      return this;
    },
    req(node: number, lock: string, res: string, mode: HMode, flags: string[] = []): string {
      const op = `${prefix}${++ops}`;
      ev.push({ type: 'request', t, node, op, lock, res, mode, flags });
      return op;
    },
    conv(node: number, lock: string, mode: HMode, lvb?: string, flags: string[] = []): string {
      const op = `${prefix}${++ops}`;
      ev.push({ type: 'convert', t, node, op, lock, mode, flags, ...(lvb === undefined ? {} : { lvb }) });
      return op;
    },
    unlock(node: number, lock: string, lvb?: string): string {
      const op = `${prefix}${++ops}`;
      ev.push({ type: 'unlock', t, node, op, lock, ...(lvb === undefined ? {} : { lvb }) });
      return op;
    },
    cancel(node: number, lock: string) {
      ev.push({ type: 'cancel', t, node, lock });
    },
    done(node: number, op: string, lock: string, status: string, mode: HMode | null, extra: { fence?: number; lvb?: string; valnotvalid?: boolean; ended?: boolean } = {}) {
      ev.push({ type: 'done', t, node, op, lock, status, mode, ended: extra.ended ?? (status === 'EUNLOCK' || status === 'OK' ? mode === null : false), ...extra });
    },
    /** A granted request in one go. */
    grant(node: number, lock: string, res: string, mode: HMode, extra: { fence?: number; lvb?: string; valnotvalid?: boolean } = {}) {
      const op = this.req(node, lock, res, mode);
      this.done(node, op, lock, 'OK', mode, extra);
    },
    release(node: number, lock: string, lvb?: string) {
      const op = this.unlock(node, lock, lvb);
      this.done(node, op, lock, 'EUNLOCK', null, { ended: true });
    },
    view(node: number, view: number, members: number[]) {
      ev.push({ type: 'view', t, node, view, members });
    },
    granting(node: number, view: number, until: number) {
      ev.push({ type: 'granting', t, node, view, until });
    },
    kill(node: number) {
      ev.push({ type: 'kill', t, node });
    },
    healed() {
      ev.push({ type: 'healed', t, node: 0 });
    },
    held(node: number, lock: string, mode: HMode | null) {
      ev.push({ type: 'held', t, node, lock, mode });
    },
    end() {
      ev.push({ type: 'end', t, node: 0 });
    },
  };
}

const kinds = (ev: HistoryEvent[]) => checkHistory(ev).violations.map((v) => v.kind);
const lv = (s: string) => Buffer.from(s.padEnd(8, '\0')).toString('hex');
const ZERO = '00'.repeat(8);

describe('history checker: tables written from the spec', () => {
  it('compatibility is §1.4 (symmetric, the PR/CW inversion) and the LVB table is §1.7', () => {
    const M: HMode[] = ['NL', 'CR', 'CW', 'PR', 'PW', 'EX'];
    for (const a of M) for (const b of M) expect(compatibleModes(a, b)).toBe(compatibleModes(b, a));
    expect(compatibleModes('PR', 'CW')).toBe(false);
    expect(compatibleModes('CR', 'PW')).toBe(true);
    expect(compatibleModes('NL', 'EX')).toBe(true);
    expect(compatibleModes('CR', 'EX')).toBe(false);
    expect(lvbOp(null, 'NL')).toBe('R');
    expect(lvbOp('PW', 'EX')).toBe('R');
    expect(lvbOp('PW', 'PR')).toBe('W');
    expect(lvbOp('EX', 'EX')).toBe('W');
    expect(lvbOp('PR', 'CW')).toBe('-');
    expect(lvbOp('CR', 'NL')).toBe('-');
  });
});

describe('history checker: a clean history passes', () => {
  it('two nodes taking EX in turn, writing and reading the LVB, tokens rising, every op done, snapshot matches', () => {
    const h = hist();
    h.grant(1, 'a1', 'r', 'EX', { fence: 1, lvb: ZERO });
    const b = h.req(2, 'b1', 'r', 'EX');
    h.release(1, 'a1', lv('v1'));
    h.done(2, b, 'b1', 'OK', 'EX', { fence: 2, lvb: lv('v1') });
    const c = h.conv(2, 'b1', 'PR', lv('v2'));
    h.done(2, c, 'b1', 'OK', 'PR', { lvb: lv('v2') });
    h.grant(3, 'c1', 'r', 'PR', { lvb: lv('v2') });
    const q = h.req(1, 'a2', 'r', 'EX', ['NOQUEUE']);
    h.done(1, q, 'a2', 'EAGAIN', null, { ended: true });
    h.healed();
    h.held(2, 'b1', 'PR');
    h.held(3, 'c1', 'PR');
    h.end();
    const r = checkHistory(h.ev);
    expect(r.violations, describeViolations(r.violations)).toEqual([]);
    expect(r.stats).toMatchObject({ ops: 6, grants: 4, lvbReads: 3 });
  });

  it('a down-conversion gives the mode up when issued: a grant before its completion is no overlap', () => {
    const h = hist();
    h.grant(1, 'a', 'r', 'EX', { fence: 1 });
    const b = h.req(2, 'b', 'r', 'EX');
    const c = h.conv(1, 'a', 'NL', lv('x'));
    h.done(2, b, 'b', 'OK', 'EX', { fence: 2, lvb: lv('x') });
    h.done(1, c, 'a', 'OK', 'NL');
    expect(kinds(h.ev)).toEqual([]);
  });
});

describe('history checker: each violation is caught', () => {
  it('overlap: EX granted on another node while PR is held', () => {
    const h = hist();
    h.grant(1, 'a', 'r', 'PR');
    h.grant(2, 'b', 'r', 'EX', { fence: 1 });
    expect(kinds(h.ev)).toEqual(['overlap']);
  });

  it('overlap: an up-conversion granted while an incompatible lock is held (compatible holds are fine)', () => {
    const h = hist();
    h.grant(1, 'a', 'r', 'PR');
    const c = h.conv(1, 'a', 'EX');
    h.grant(2, 'b', 'r', 'PR');
    expect(kinds(h.ev)).toEqual([]);
    h.done(1, c, 'a', 'OK', 'EX', { fence: 1 });
    expect(kinds(h.ev)).toEqual(['overlap']);
  });

  it('a middle conversion (CW->PR) may switch at the master before it completes: a PR granted in its window is fine, unless the conversion failed', () => {
    const build = (status: 'OK' | 'EAGAIN') => {
      const h = hist();
      h.grant(1, 'a', 'r', 'CW');
      h.grant(2, 'b', 'r', 'CR');
      const c = h.conv(1, 'a', 'PR', undefined, status === 'EAGAIN' ? ['NOQUEUE'] : []);
      const d = h.conv(2, 'b', 'PR');
      h.done(2, d, 'b', 'OK', 'PR', { lvb: ZERO });
      h.done(1, c, 'a', status, status === 'OK' ? 'PR' : 'CW', { lvb: ZERO });
      return h.ev;
    };
    expect(kinds(build('OK'))).toEqual([]);
    // The failed conversion kept CW through its window and after: both intervals overlap b's PR.
    expect(kinds(build('EAGAIN'))).toEqual(['overlap', 'overlap']);
    const ex = hist();
    ex.grant(1, 'a', 'r', 'CW');
    ex.conv(1, 'a', 'PR');
    ex.grant(2, 'b', 'r', 'PW', { fence: 1 });
    expect(kinds(ex.ev)).toEqual(['overlap']);
  });

  it('a killed holder counts until a view excludes it: a grant before that view overlaps, one after does not', () => {
    const early = hist();
    early.view(1, 1, [1, 2, 3]);
    early.grant(1, 'a', 'r', 'EX', { fence: 1 });
    early.kill(1);
    early.grant(2, 'b', 'r', 'EX', { fence: 2 });
    early.view(2, 2, [2, 3]);
    expect(kinds(early.ev)).toEqual(['overlap']);

    const late = hist();
    late.view(1, 1, [1, 2, 3]);
    late.grant(1, 'a', 'r', 'EX', { fence: 1 });
    late.kill(1);
    late.view(2, 2, [2, 3]);
    late.grant(2, 'b', 'r', 'EX', { fence: 2 });
    expect(kinds(late.ev)).toEqual([]);
  });

  it('a cut-off holder counts until its lease ended even when the excluding view came earlier, and must be fenced', () => {
    const h = hist();
    h.at(0).view(1, 1, [1, 2, 3]);
    h.granting(1, 1, 100);
    h.grant(1, 'a', 'r', 'EX', { fence: 1 });
    h.at(50).view(2, 2, [2, 3]);
    h.at(60).grant(2, 'b', 'r', 'EX', { fence: 2 });
    expect(kinds(h.ev)).toEqual(['overlap']);

    const ok = hist();
    ok.at(0).view(1, 1, [1, 2, 3]);
    ok.granting(1, 1, 100);
    ok.grant(1, 'a', 'r', 'EX', { fence: 1 });
    ok.at(50).view(2, 2, [2, 3]);
    ok.at(120).grant(2, 'b', 'r', 'EX', { fence: 2 });
    const upToB = ok.ev.length;
    ok.at(130).healed();
    ok.held(2, 'b', 'EX');
    ok.end();
    // Node 1 was excluded but its lock never ended: a zombie.
    expect(kinds(ok.ev)).toEqual(['bad-completion']);
    const fencedOk = hist('f');
    fencedOk.ev.push(...ok.ev.slice(0, upToB));
    const u = fencedOk.at(125).unlock(1, 'a');
    fencedOk.done(1, u, 'a', 'ENOTCONN', null, { ended: true });
    fencedOk.healed();
    fencedOk.held(2, 'b', 'EX');
    fencedOk.end();
    expect(kinds(fencedOk.ev)).toEqual([]);
  });

  it('a view replayed by a restarted node is not a new commit: it excludes nobody now', () => {
    const h = hist();
    h.view(1, 1, [1, 2, 3]);
    h.view(1, 2, [1, 2]);
    h.view(1, 3, [1, 2, 3]);
    h.grant(3, 'c', 'r', 'EX', { fence: 1 });
    // Node 2 restarts and replays views 1..3 from its log: view 2 (without node 3) again.
    h.view(2, 1, [1, 2, 3]);
    h.view(2, 2, [1, 2]);
    h.view(2, 3, [1, 2, 3]);
    h.grant(1, 'a', 'r', 'EX', { fence: 2 });
    expect(kinds(h.ev)).toEqual(['overlap']);
  });

  it('an excluded node that is alive loses its locks at the exclusion: a zero LVB read afterwards is fine when nothing else held the resource', () => {
    const h = hist();
    h.at(0).view(1, 1, [1, 2, 3]);
    h.grant(3, 'c', 'r', 'NL', { lvb: ZERO });
    h.grant(1, 'a', 'r', 'EX', { fence: 1, lvb: ZERO });
    h.release(1, 'a', lv('w1'));
    h.at(10).view(2, 2, [1, 2]);
    h.at(20).grant(2, 'b', 'r', 'PR', { lvb: ZERO });
    const u = h.unlock(3, 'c');
    h.done(3, u, 'c', 'ENOTCONN', null, { ended: true });
    expect(kinds(h.ev)).toEqual([]);
    // Had node 3 stayed in the view, its NL lock would have kept the LVB: zero is then stale.
    expect(kinds(h.ev.filter((e) => !(e.type === 'view' && e.view === 2)).map((e) => (e.type === 'done' && e.status === 'ENOTCONN' ? { ...e, status: 'OK' } : e)))).toEqual(['lvb']);
  });

  it('fence-order: a token that does not rise across holders; fence-missing; the same lock may keep its token', () => {
    const h = hist();
    h.grant(1, 'a', 'r', 'EX', { fence: 5 });
    h.release(1, 'a');
    h.grant(2, 'b', 'r', 'PW', { fence: 5 });
    expect(kinds(h.ev)).toEqual(['fence-order']);

    const m = hist();
    m.grant(1, 'a', 'r', 'EX');
    expect(kinds(m.ev)).toEqual(['fence-missing']);
    expect(checkHistory(m.ev, { fences: 'absent-ok' }).violations).toEqual([]);

    const same = hist();
    same.grant(1, 'a', 'r', 'EX', { fence: 7 });
    const c = same.conv(1, 'a', 'PW');
    same.done(1, c, 'a', 'OK', 'PW', { fence: 7 });
    same.release(1, 'a');
    same.grant(2, 'b', 'r', 'EX', { fence: 8 });
    expect(kinds(same.ev)).toEqual([]);
    // PW -> EX raises the mode: it needs a new token.
    const up = hist();
    up.grant(1, 'a', 'r', 'PW', { fence: 3 });
    const u = up.conv(1, 'a', 'EX');
    up.done(1, u, 'a', 'OK', 'EX', { fence: 3 });
    expect(kinds(up.ev)).toEqual(['fence-order']);
  });

  it('lost-lock: a held lock ends without an unlock, loses its mode, or is missing from the final snapshot', () => {
    const ended = hist();
    ended.grant(1, 'a', 'r', 'PR');
    const c = ended.conv(1, 'a', 'EX');
    ended.done(1, c, 'a', 'ENOTCONN', null, { ended: true });
    expect(kinds(ended.ev)).toEqual(['bad-completion', 'lost-lock']);

    const demoted = hist();
    demoted.grant(1, 'a', 'r', 'PR');
    const d = demoted.conv(1, 'a', 'EX', undefined, ['NOQUEUE']);
    demoted.done(1, d, 'a', 'EAGAIN', 'NL');
    expect(kinds(demoted.ev)).toEqual(['lost-lock']);

    const snap = hist();
    snap.grant(1, 'a', 'r', 'PR');
    snap.grant(2, 'b', 'r', 'PR');
    snap.healed();
    snap.held(1, 'a', 'PR');
    snap.held(2, 'b', 'NL');
    snap.end();
    expect(kinds(snap.ev)).toEqual(['lost-lock']);
  });

  it('a lock ending with no operation in flight (a fence) is fine only after a view excluded its node', () => {
    const build = (excluded: boolean) => {
      const h = hist();
      h.view(1, 1, [1, 2, 3]);
      h.grant(3, 'c', 'r', 'PR', { lvb: ZERO });
      if (excluded) h.view(1, 2, [1, 2]);
      h.ev.push({ type: 'ended', t: 0, node: 3, lock: 'c', status: 'ENOTCONN' });
      return h.ev;
    };
    expect(kinds(build(true))).toEqual([]);
    expect(kinds(build(false))).toEqual(['lost-lock']);
  });

  it('never-completed: an operation of a live node pending at the end of a healed history; a killed node owes nothing', () => {
    const h = hist();
    h.grant(1, 'a', 'r', 'EX', { fence: 1 });
    h.req(2, 'b', 'r', 'EX');
    h.req(3, 'c', 'r', 'PR');
    h.kill(3);
    h.release(1, 'a');
    h.healed();
    h.end();
    const r = checkHistory(h.ev);
    expect(r.violations.map((v) => v.kind)).toEqual(['never-completed']);
    expect(r.violations[0]!.message).toContain('on b');
    // Without a heal nothing is owed.
    expect(kinds(h.ev.filter((e) => e.type !== 'healed'))).toEqual([]);
  });

  it('bad-completion: EAGAIN without NOQUEUE, ECANCEL without a cancel, a second completion, a fenced status without exclusion', () => {
    const h = hist();
    const a = h.req(1, 'a', 'r', 'EX');
    h.done(1, a, 'a', 'EAGAIN', null, { ended: true });
    const b = h.req(1, 'b', 'r', 'EX');
    h.done(1, b, 'b', 'ECANCEL', null, { ended: true });
    const c = h.req(2, 'c', 'r', 'PR');
    h.cancel(2, 'c');
    h.done(2, c, 'c', 'ECANCEL', null, { ended: true });
    h.done(2, c, 'c', 'OK', 'PR');
    const d = h.req(3, 'd', 'q', 'PR');
    h.done(3, d, 'd', 'ENOTCONN', null, { ended: true });
    expect(kinds(h.ev)).toEqual(['bad-completion', 'bad-completion', 'bad-completion', 'bad-completion']);
  });

  it('EBUSY (§2.9) only after a cancel on the lock that may still be in flight', () => {
    const build = (cancel: boolean) => {
      const h = hist();
      h.grant(1, 'a', 'r', 'NL');
      const c = h.conv(1, 'a', 'PR');
      if (cancel) h.cancel(1, 'a');
      h.done(1, c, 'a', 'OK', 'PR', { lvb: ZERO });
      const d = h.conv(1, 'a', 'CR');
      h.done(1, d, 'a', 'EBUSY', 'PR');
      return h.ev;
    };
    expect(kinds(build(true))).toEqual([]);
    expect(kinds(build(false))).toEqual(['bad-completion']);
  });

  it('lvb: a value nobody wrote, a stale value, a zero after a write on a busy resource, a VALNOTVALID with nobody gone', () => {
    const invented = hist();
    invented.grant(1, 'a', 'r', 'PR', { lvb: lv('ghost') });
    expect(kinds(invented.ev)).toEqual(['lvb']);

    const stale = hist();
    stale.grant(3, 'keep', 'r', 'NL', { lvb: ZERO });
    stale.grant(1, 'a', 'r', 'EX', { fence: 1, lvb: ZERO });
    stale.release(1, 'a', lv('v1'));
    stale.grant(1, 'a2', 'r', 'EX', { fence: 2, lvb: lv('v1') });
    stale.release(1, 'a2', lv('v2'));
    stale.grant(2, 'b', 'r', 'PR', { lvb: lv('v1') });
    expect(kinds(stale.ev)).toEqual(['lvb']);

    const zero = hist();
    zero.grant(3, 'keep', 'r', 'NL', { lvb: ZERO });
    zero.grant(1, 'a', 'r', 'EX', { fence: 1, lvb: ZERO });
    zero.release(1, 'a', lv('v1'));
    zero.grant(2, 'b', 'r', 'PR', { lvb: ZERO });
    expect(kinds(zero.ev)).toEqual(['lvb']);
    // Without the NL keeper the resource went idle: its LVB may have been dropped, zero is fine.
    expect(kinds(zero.ev.filter((e) => !('lock' in e) || e.lock !== 'keep'))).toEqual([]);

    const vnv = hist();
    vnv.grant(1, 'a', 'r', 'PR', { lvb: ZERO, valnotvalid: true });
    expect(kinds(vnv.ev)).toEqual(['lvb']);
  });

  it('VALNOTVALID after the first committed view leaves out a node that was active under the initial member list (view 0 is never reported)', () => {
    const build = (members: number[]) => {
      const h = hist();
      h.granting(3, 0, 100);
      h.grant(1, 'a', 'r', 'NL', { lvb: ZERO });
      h.view(1, 1, members);
      h.grant(2, 'b', 'r', 'PR', { lvb: ZERO, valnotvalid: true });
      return h.ev;
    };
    expect(kinds(build([1, 2]))).toEqual([]);
    expect(kinds(build([1, 2, 3]))).toEqual(['lvb']);
  });

  it('lvb (§2.10): a down-conversion completes on the owner, so its write is certain only once the master must have it (fault seeds 1092, 1170)', () => {
    // Node 1 holds PW and converts to CR writing w1; the CONVERT is still on its way (a partition)
    // when the master grants node 2 an NL lock, compatible with PW: the master may read the old value.
    const base = (view = false) => {
      const h = hist();
      if (view) h.view(1, 1, [1, 2, 3, 4]);
      h.grant(3, 'keep', 'r', 'NL', { lvb: ZERO });
      h.grant(1, 'a', 'r', 'PW', { fence: 1, lvb: ZERO });
      const c = h.conv(1, 'a', 'CR', lv('w1'));
      h.done(1, c, 'a', 'OK', 'CR', { lvb: lv('w1') });
      h.grant(2, 'b', 'r', 'NL', { lvb: ZERO });
      return h;
    };
    expect(kinds(base().ev)).toEqual([]);
    // A grant of a mode PW excludes (PR) comes after the master processed the down-conversion: it must see w1 ...
    const incompatible = base();
    incompatible.grant(4, 'd', 'r', 'PR', { lvb: ZERO });
    expect(kinds(incompatible.ev)).toEqual(['lvb']);
    const seen = base();
    seen.grant(4, 'd', 'r', 'PR', { lvb: lv('w1') });
    expect(kinds(seen.ev)).toEqual([]);
    // ... and so must a read issued after that grant, whatever its mode.
    seen.grant(2, 'b2', 'r', 'CR', { lvb: ZERO });
    expect(kinds(seen.ev)).toEqual(['lvb']);
    // A later operation of the same lock answered by the master (CR -> PR) confirms it too: the owner's messages arrive in order.
    const same = base();
    const u = same.conv(1, 'a', 'PR');
    same.done(1, u, 'a', 'OK', 'PR', { lvb: lv('w1') });
    same.grant(2, 'b2', 'r', 'CR', { lvb: ZERO });
    expect(kinds(same.ev)).toEqual(['lvb']);
    // A writer excluded before the incompatible grant may have been purged with its CONVERT unprocessed (§4.5).
    const purged = base(true);
    purged.kill(1);
    purged.view(2, 2, [2, 3, 4]);
    purged.grant(4, 'd', 'r', 'PR', { lvb: ZERO, valnotvalid: true });
    expect(kinds(purged.ev)).toEqual([]);
  });

  it('overlap: a hold is counted from its grant; a down-conversion an excluded node issues after its exclusion and lease is no new hold (fault seed 1049)', () => {
    const build = (up: boolean) => {
      const h = hist();
      h.at(0).view(1, 1, [1, 2, 3]);
      h.granting(1, 1, 100);
      h.grant(1, 'a', 'r', up ? 'NL' : 'PR');
      h.at(50).view(2, 2, [2, 3]);
      // Node 1, cut off and unaware, acts on its lock after the view excluded it and its lease ended.
      const c = h.at(110).conv(1, 'a', up ? 'EX' : 'CR');
      if (up) h.done(1, c, 'a', 'OK', 'EX', { fence: 1, lvb: ZERO });
      h.at(120).grant(2, 'b', 'r', up ? 'PR' : 'EX', { fence: 2, lvb: ZERO });
      return h.ev;
    };
    // The CR it keeps is part of the PR hold the survivors purged at the exclusion.
    expect(kinds(build(false))).toEqual([]);
    // A grant the excluded node gets after that is a new hold and still counts.
    expect(kinds(build(true))).toEqual(['overlap']);
  });

  it('lvb (§4.7): after a PW/EX holder is excluded, an incompatible read must report VALNOTVALID', () => {
    const build = (valnotvalid: boolean) => {
      const h = hist();
      h.view(1, 1, [1, 2, 3]);
      h.grant(3, 'keep', 'r', 'NL', { lvb: ZERO });
      h.grant(1, 'a', 'r', 'EX', { fence: 1, lvb: ZERO });
      const c = h.conv(1, 'a', 'EX', lv('w1'));
      h.done(1, c, 'a', 'OK', 'EX', { fence: 1 });
      h.kill(1);
      h.view(2, 2, [2, 3]);
      h.grant(2, 'b', 'r', 'PR', { lvb: lv('w1'), valnotvalid });
      return h.ev;
    };
    expect(kinds(build(true))).toEqual([]);
    expect(kinds(build(false))).toEqual(['lvb']);
  });
});

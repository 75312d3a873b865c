/**
 * MembershipTracker.proposal(): what a node proposes as the next view. Found
 * by the fault test (seeds 1018, 1022): when most nodes were killed and
 * restarted, each waited (not serving the lockspace) for a view that leaves
 * it out, but the one live leader could only propose itself, below the
 * majority every view needs, so no view was ever committed again and every
 * request on a restarted node waited forever.
 */
import { describe, expect, it } from 'vitest';
import { MembershipTracker } from '../../../../src/services/dlm/views/driver-membership.ts';
import { validMembers } from '../../../../src/services/dlm/views/view-log.ts';

const voters = [1, 2, 3, 4, 5];
const seen = (ids: number[], inc = 1) => ids.map((nodeid) => ({ nodeid, incarnation: inc }));

describe('MembershipTracker.proposal', () => {
  it('a majority live: exactly the live voters', () => {
    const t = new MembershipTracker(1, voters);
    t.observe(seen([1, 2, 3]));
    expect(t.proposal()).toEqual([1, 2, 3]);
  });

  it('below the majority: keeps members of the committed view (highest ids) to reach it, drops the rest, so rejoining nodes are left out a few at a time', () => {
    const t = new MembershipTracker(1, voters);
    t.observe(seen([1])); // 2..5 restarted and wait for a view without them (they still answer the views protocol)
    const all = new Set([2, 3, 4, 5]);
    expect(t.proposal()).toEqual([1]); // nobody known to answer: a cut-off node proposes only what it sees
    const p1 = t.proposal(all);
    expect(p1).toEqual([1, 4, 5]);
    expect(validMembers(p1, voters, 1)).toBe(true);
    t.committed(p1); // 2 and 3 were left out: they rejoin as fresh members
    expect(t.proposal(all)).toEqual([1, 4, 5]); // nothing new to drop yet: the same view (no new entry)
    t.observe(seen([1, 2, 3], 2));
    const p2 = t.proposal(all);
    expect(p2).toEqual([1, 2, 3]); // a live majority again: 4 and 5 are left out now
    t.committed(p2);
    t.observe(seen([1, 2, 3, 4, 5], 2));
    expect(t.proposal()).toEqual([1, 2, 3, 4, 5]);
  });

  it('never proposes a node the committed view does not have', () => {
    const t = new MembershipTracker(3, voters);
    t.committed([2, 3, 4]);
    t.observe(seen([3]));
    const p = t.proposal(new Set([1, 2, 4, 5]));
    expect(p.every((n) => [2, 3, 4].includes(n))).toBe(true);
    expect(p).toEqual([2, 3, 4]);
    expect(t.proposal(new Set([2]))).toEqual([3]); // too few answering: no view can be made, propose what is seen
  });
});

/**
 * A lock request that outlives its owner's fence (docs/hosts.md "Findings",
 * partition seed 3): the owner is cut off from the master with a REQUEST
 * (or CONVERT) still on its way; the others exclude it and purge its locks;
 * it is fenced (its locks fail with ENOTCONN and are forgotten); the
 * partition heals and the old message reaches the master, which must not
 * create or grant a master copy of a lock the owner no longer has —
 * otherwise every later request on that resource waits behind it for ever.
 */
import { describe, expect, it } from 'vitest';
import { DlmError, DlmSim, type DlmLockspace } from '../../../../src/services/dlm/index.ts';
import { pinHash } from '../cluster.ts';

const code = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof DlmError ? e.code : String(e)),
  );

/** Nodes 1-3; node 1 masters `d0r` (first to lock it, NL). */
async function setup() {
  const sim = new DlmSim({ nodes: [1, 2, 3], hash: pinHash });
  const spaces = await Promise.all([1, 2, 3].map((id) => sim.node(id).join('stale', { members: [1, 2, 3] })));
  const [l1, l2, l3] = spaces as [DlmLockspace, DlmLockspace, DlmLockspace];
  const first = l1.lock('d0r', 'NL');
  await sim.settle({ timers: false });
  await first;
  return { sim, l1, l2, l3 };
}

/** Nodes 1 and 3 exclude node 2; node 2 is fenced, as the views driver does. */
function exclude2(l1: DlmLockspace, l2: DlmLockspace, l3: DlmLockspace): void {
  l1.raw.stop();
  l3.raw.stop();
  l1.raw.start([1, 3]);
  l3.raw.start([1, 3]);
  l2.raw.fence();
}

/** The rejoin in two steps: all three stop; all three start with node 2 back (node 2 joins fresh). */
function rejoin2(l1: DlmLockspace, l2: DlmLockspace, l3: DlmLockspace) {
  return {
    stop: () => {
      for (const l of [l1, l2, l3]) l.raw.stop();
    },
    start: () => {
      for (const l of [l1, l2, l3]) l.raw.start([1, 2, 3]);
    },
  };
}

const node2Copies = (l: DlmLockspace) =>
  l.raw
    .dump()
    .flatMap((d) => [...d.grant, ...d.convert, ...d.wait].map((k) => ({ res: d.name, ...k })))
    .filter((k) => (k as { nodeid?: number }).nodeid === 2);

type Rejoin = ReturnType<typeof rejoin2>;
/** When the partition heals (the held messages arrive) relative to the rejoin. */
const heals: [string, (sim: DlmSim, rj: Rejoin) => Promise<void>][] = [
  [
    'arriving before the rejoin',
    async (sim, rj) => {
      sim.release(2, 1);
      await sim.settle();
      rj.stop();
      rj.start();
      await sim.settle();
    },
  ],
  [
    'arriving while the others are stopped for the rejoin',
    async (sim, rj) => {
      rj.stop();
      sim.release(2, 1);
      await sim.settle();
      rj.start();
      await sim.settle();
    },
  ],
  [
    'arriving as the rejoin starts',
    async (sim, rj) => {
      rj.stop();
      rj.start();
      sim.release(2, 1);
      await sim.settle();
    },
  ],
];

describe('a request delivered after its owner was fenced (hosts partition seed 3)', () => {
  /** What node 2 has in flight to the master when it is cut off. */
  const inFlight: [string, (l2: DlmLockspace, sim: DlmSim) => Promise<{ op: Promise<unknown> }>][] = [
    [
      'a second lock (REQUEST, master known)',
      async (l2, sim) => {
        const nl = l2.lock('d0r', 'NL');
        await sim.settle({ timers: false });
        await nl;
        sim.hold(2, 1);
        return { op: l2.lock('d0r', 'PW') };
      },
    ],
    [
      'a conversion (CONVERT)',
      async (l2, sim) => {
        const nl = l2.lock('d0r', 'NL');
        await sim.settle({ timers: false });
        const h = await nl;
        sim.hold(2, 1);
        return { op: h.convert('PW') };
      },
    ],
    [
      'a first lock (LOOKUP)',
      async (l2, sim) => {
        sim.hold(2, 1);
        return { op: l2.lock('d0r', 'PW') };
      },
    ],
  ];
  const cases = inFlight.flatMap(([what, send]) => heals.map(([when, heal]) => [what, when, send, heal] as const));

  it.each(cases)('%s held across the exclusion, %s: the master keeps no copy of it, later requests are granted', async (_what, _when, send, heal) => {
    const { sim, l1, l2, l3 } = await setup();
    const op = code((await send(l2, sim)).op);
    await sim.settle({ timers: false });
    expect(sim.heldCount(2, 1)).toBeGreaterThan(0);
    exclude2(l1, l2, l3);
    await sim.settle();
    expect(await op).toBe('ENOTCONN');
    await heal(sim, rejoin2(l1, l2, l3));
    expect(node2Copies(l1)).toEqual([]);
    const later = l3.lock('d0r', 'EX');
    await sim.settle();
    expect((await later).mode).toBe('EX');
  });
});

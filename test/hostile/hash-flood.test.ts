/**
 * Issue 7, attack 2: hash flooding the transaction-id table. The table
 * (src/iocom/id-table.ts) homes an id at `imul(id, 0x9e3779b1) >>> (32 - bits)`;
 * 0x0e8b2f51 is that multiplier's inverse mod 2^32, so the msgids
 * `imul(i, 0x0e8b2f51)` for small i all home to the first slots and form one
 * probe run: every insert, lookup and delete walks it. Phases, each timed
 * with a PING barrier: 65,000 CREATEs, then messages on unknown ids (each
 * lookup walks the run), then tearing the link down (each delete does). A
 * first link does the same with seeded random ids: the baseline of the same
 * run. Once the table is seeded the adversarial ids are just ids: the attack
 * must not slow the bystander.
 */
import { describe, expect, it } from 'vitest';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { FIB_INVERSE, HostilePeer } from '../helpers/hostile-peer.ts';
import { mulberry32 } from '../helpers/prng.ts';
import { MAX_LATENCY_MS, SAFETY_MS, finishAttack, since, size, startBystander, startHostileRelay, useHostileCleanup, type RelayProcess } from '../helpers/hostile-relay.ts';

useHostileCleanup();

const CREATES = 65_000;
const UNKNOWN = size(30_000, 100_000);
const SEED = 0x7e57;

interface PhaseTimes {
  createsMs: number | null;
  unknownMs: number | null;
  teardownMs: number | null;
}

/** CREATEs on `open(i)`, then one-way messages on `unknown(j)`, then a hard close; each phase timed. */
async function flood(relay: RelayProcess, open: (i: number) => number, unknown: (j: number) => number): Promise<PhaseTimes> {
  const peer = await HostilePeer.connect(relay.port, { read: 'decode', keep: 0 });
  const connId = await relay.connIdOf(peer.localPort);
  // A proper peer: LNK_CONN first (before it, the relay refuses everything else).
  peer.sendConn({ peerMask: 0n });
  const times: PhaseTimes = { createsMs: null, unknownMs: null, teardownMs: null };
  let t0 = performance.now();
  await peer.writeFrames(CREATES, (i) => peer.frame({ cmd: (DMSG.DBG_SHELL | DMSGF.CREATE) >>> 0, msgid: BigInt(open(i + 1)) }));
  if ((await peer.pingRtt(SAFETY_MS)) === null) return times;
  times.createsMs = since(t0);

  t0 = performance.now();
  await peer.writeFrames(UNKNOWN, (j) => peer.frame({ cmd: DMSG.LNK_PAD, msgid: BigInt(unknown(j + 1)) }));
  if ((await peer.pingRtt(SAFETY_MS)) === null) return times;
  times.unknownMs = since(t0);

  t0 = performance.now();
  peer.destroy();
  if ((await relay.waitLinkDown(connId, SAFETY_MS)) !== null) times.teardownMs = since(t0);
  return times;
}

describe('hostile: hash flooding the transaction-id table', () => {
  it('adversarial msgids do not slow the relay or the bystander', async () => {
    const relay = await startHostileRelay({});
    const baselineRssMb = relay.sampleRss()!;
    const bystander = await startBystander(relay);

    // Baseline: seeded random ids (what a well-behaved peer's ids cost).
    const rnd = mulberry32(SEED);
    const unique = new Set<number>();
    while (unique.size < CREATES + UNKNOWN) unique.add(1 + Math.floor(rnd() * 0xfffffffe));
    const randomIds = [...unique];
    const baseline = await flood(relay, (i) => randomIds[i - 1]!, (j) => randomIds[CREATES + j - 1]!);

    const t0 = performance.now();
    const adversarial = await flood(relay, (i) => Math.imul(i, FIB_INVERSE) >>> 0, (j) => Math.imul(CREATES + j, FIB_INVERSE) >>> 0);
    const total = since(t0);
    const phases = (p: PhaseTimes): string => `creates ${p.createsMs ?? 'n/a'} ms, unknown ${p.unknownMs ?? 'n/a'} ms, teardown ${p.teardownMs ?? 'n/a'} ms`;

    const broken = await finishAttack({
      attack: '2 hash flooding (65,000 CREATEs + unknown ids)',
      relay,
      bystander,
      effect: `adversarial: ${phases(adversarial)}; random ids: ${phases(baseline)}`,
      timeToEffectMs: total,
      baselineRssMb,
      maxLatencyMs: MAX_LATENCY_MS,
      rssLimitMb: baselineRssMb + size(250, 400),
      extra: { seed: SEED, creates: CREATES, unknown: UNKNOWN, adversarial, randomIds: baseline },
    });
    expect(broken, `seed ${SEED}\n${relay.log()}`).toEqual([]);
    expect(adversarial.createsMs, 'the CREATE phase finished').not.toBeNull();
    expect(adversarial.unknownMs, 'the unknown-id phase finished').not.toBeNull();
    expect(adversarial.teardownMs, 'the teardown finished').not.toBeNull();
  }, SAFETY_MS * 5);
});

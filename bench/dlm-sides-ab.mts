/**
 * A/B of the DLM's own CPU per remote message, one side at a time, between
 * source trees in ONE process (not part of `npm run bench`). No second node
 * and no network: the peer is played by this script with prepared bytes, so
 * a figure is only the DLM's work on that side (decode, checks, handling,
 * the callbacks, the encode of what it sends) plus a fixed harness cost.
 *
 * - master: node 1 masters `r0` and holds an NL lock on it (as the remote
 *   rows of `npm run bench -- dlm` do); each cycle feeds it a REQUEST (EX) and then
 *   the UNLOCK of that lock from node 2, and reads the lkid of the master
 *   copy back from the REQUEST_REPLY it sends.
 * - owner: node 2 locks `r0` (mastered on node 1) in EX; the script answers
 *   its REQUEST with a granting REQUEST_REPLY, the completion AST unlocks,
 *   the script answers the UNLOCK with UNLOCK_REPLY, and that AST resolves
 *   the cycle's promise, which the loop awaits before the next lock (as an
 *   application would; the node's deferred work runs as it would).
 *
 * Rounds alternate A B, B A, ... in process CPU time. Prints ns per cycle
 * (two messages in, two out) per side and tree, and the median per-round
 * B/A.
 *
 *   npx tsx --conditions=dmsg-mesh-source bench/dlm-sides-ab.mts TREE_A [TREE_B] [ROUNDS] [MS]
 *   SIDE=master|owner limits it to one side (e.g. for --cpu-prof).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const args = process.argv.slice(2);
const isNum = (s: string): boolean => /^\d+$/.test(s);
const roots = args.filter((a) => !isNum(a)).map((r) => resolve(r));
const nums = args.filter(isNum).map(Number);
if (roots.length < 1 || roots.length > 2) {
  process.stderr.write('usage: dlm-sides-ab.mts TREE_A [TREE_B] [ROUNDS] [MS]\n');
  process.exit(2);
}
const ROUNDS = nums[0] ?? 20;
const MS = nums[1] ?? 100;
const SIDES = (process.env.SIDE ?? 'master,owner').split(',');

type Run = (ms: number) => Promise<number>;

/** The u32 at byte `o` of `b`, little-endian. */
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

async function load(root: string): Promise<any> {
  return import(pathToFileURL(`${root}/src/services/dlm/index.ts`).href);
}

/** Node 1 as master; node 2 played here. */
async function masterSide(root: string): Promise<Run> {
  const D = await load(root);
  const M = D.dlmMessage;
  let receive: ((from: number, bytes: Uint8Array) => void) | null = null;
  let lastSent: Uint8Array | null = null;
  const dlm = new D.Dlm({
    hash: () => 0, // node 1 (the lower id) is every resource's directory, and so its master
    tossMs: 1e9,
    endpoint: {
      nodeid: 1,
      copiesOnSend: true,
      asyncReceive: true,
      send(_to: number, bytes: Uint8Array): void {
        lastSent = bytes;
      },
      setReceiver(fn: ((from: number, bytes: Uint8Array) => void) | null): void {
        receive = fn;
      },
    },
  });
  const ls = dlm.newLockspace('bench', { lvblen: 0, members: [1, 2] });
  // As `npm run bench -- dlm` does: the master holds an NL lock on the resource (so it is never unused there).
  let pinned = false;
  if (ls.lock(D.LKM.NL, D.newLksb(0), 0, 'r0', () => (pinned = true)) !== 0) throw new Error('master: NL lock refused');
  await null;
  if (!pinned) throw new Error('master: NL lock not granted');
  const header = { version: M.DLM_VERSION, lockspace: ls.globalId, nodeid: 2 };
  // The two messages node 2 sends, in buffers of their own (rewritten per cycle: lkid, remid).
  const req = M.emptyMessage(M.MSG.REQUEST);
  req.nodeid = 2;
  req.rqmode = D.LKM.EX;
  req.asts = 1;
  req.extra = new TextEncoder().encode('r0');
  const unl = M.emptyMessage(M.MSG.UNLOCK);
  unl.nodeid = 2;
  unl.grmode = D.LKM.EX;
  unl.asts = 1;
  const reqBytes = new Uint8Array(M.encodeMessage(header, req));
  const unlBytes = new Uint8Array(M.encodeMessage(header, unl));
  const put = (b: Uint8Array, o: number, v: number): void => {
    b[o] = v;
    b[o + 1] = v >>> 8;
    b[o + 2] = v >>> 16;
    b[o + 3] = v >>> 24;
  };
  let lkid = 1;
  const cycle = (): void => {
    lkid = (lkid + 1) >>> 0 || 1;
    put(reqBytes, 28, lkid);
    receive!(2, reqBytes);
    const reply = lastSent!;
    if (u32(reply, 16) !== M.MSG.REQUEST_REPLY || reply[84] !== 0) throw new Error('master: no granting REQUEST_REPLY');
    put(unlBytes, 28, lkid);
    put(unlBytes, 32, u32(reply, 28)); // remid: the master copy's lkid
    receive!(2, unlBytes);
    if (u32(lastSent!, 16) !== M.MSG.UNLOCK_REPLY) throw new Error('master: no UNLOCK_REPLY');
  };
  return async (ms: number): Promise<number> => {
    const t0 = cpu();
    const end = performance.now() + ms;
    let n = 0;
    while (performance.now() < end) {
      for (let k = 0; k < 256; k++) cycle();
      n += 256;
      await null; // deferred work (retirement checks) runs
    }
    return ((cpu() - t0) * 1e9) / n;
  };
}

/** Node 2 locking; node 1 (the master) played here. */
async function ownerSide(root: string): Promise<Run> {
  const D = await load(root);
  const M = D.dlmMessage;
  let receive: ((from: number, bytes: Uint8Array) => void) | null = null;
  // What node 2 sent last (the fields the answer needs; a message is sent at most once per answer).
  let sentType = 0;
  let sentLkid = 0;
  let sentRemid = 0;
  const dlm = new D.Dlm({
    hash: () => 0,
    tossMs: 1e9,
    endpoint: {
      nodeid: 2,
      copiesOnSend: true,
      asyncReceive: true,
      send(_to: number, bytes: Uint8Array): void {
        sentType = u32(bytes, 16);
        sentLkid = u32(bytes, 28);
        sentRemid = u32(bytes, 32);
      },
      setReceiver(fn: ((from: number, bytes: Uint8Array) => void) | null): void {
        receive = fn;
      },
    },
  });
  const ls = dlm.newLockspace('bench', { lvblen: 0, members: [1, 2] });
  const header = { version: M.DLM_VERSION, lockspace: ls.globalId, nodeid: 1 };
  // Node 1's two answers, encoded once (lkid and remid rewritten per cycle).
  const grant = M.emptyMessage(M.MSG.REQUEST_REPLY);
  grant.nodeid = 1;
  grant.grmode = D.LKM.EX;
  grant.status = 2;
  const unlReply = M.emptyMessage(M.MSG.UNLOCK_REPLY);
  unlReply.nodeid = 1;
  unlReply.result = D.DLM_ERRNO.EUNLOCK;
  const grantBytes = new Uint8Array(M.encodeMessage(header, grant));
  const unlReplyBytes = new Uint8Array(M.encodeMessage(header, unlReply));
  const put = (b: Uint8Array, o: number, v: number): void => {
    b[o] = v;
    b[o + 1] = v >>> 8;
    b[o + 2] = v >>> 16;
    b[o + 3] = v >>> 24;
  };
  let masterLkid = 1000;
  /** Node 1 answers what node 2 sent last. */
  const answer = (): void => {
    const type = sentType;
    sentType = 0;
    if (type === M.MSG.REQUEST || type === M.MSG.LOOKUP) {
      // (The first lock looks the master up: the directory, node 1, takes the LOOKUP as a REQUEST.)
      masterLkid = (masterLkid + 1) >>> 0 || 1;
      put(grantBytes, 28, masterLkid);
      put(grantBytes, 32, sentLkid);
      receive!(1, grantBytes);
    } else if (type === M.MSG.UNLOCK) {
      put(unlReplyBytes, 28, sentRemid);
      put(unlReplyBytes, 32, sentLkid);
      receive!(1, unlReplyBytes);
    } else throw new Error(`owner: unexpected message type ${type}`);
  };
  const lksb = D.newLksb(0);
  let finish: (() => void) | null = null;
  // As an application does: the completion AST unlocks; the unlock's AST resolves the cycle's promise.
  const ast = (): void => {
    if (lksb.status === 0) {
      const u = ls.unlock(lksb.lkid, 0, lksb);
      if (u !== 0) throw new Error(`owner: unlock returned ${u}`);
    } else if (lksb.status === D.DLM_ERRNO.EUNLOCK) finish?.();
    else throw new Error(`owner: status ${lksb.status}`);
  };
  const answerBoth = (): void => {
    answer(); // REQUEST -> REQUEST_REPLY; the AST unlocks
    answer(); // UNLOCK -> UNLOCK_REPLY; the AST resolves the cycle's promise
  };
  const TICK = Promise.resolve();
  const cycle = (): Promise<void> => {
    const p = new Promise<void>((res) => (finish = res));
    const rv = ls.lock(D.LKM.EX, lksb, 0, 'r0', ast);
    if (rv !== 0) throw new Error(`owner: lock returned ${rv}`);
    // The answers come after the caller awaits p (as from the network: the await's continuation is
    // queued when the AST resolves p, before the node's deferred work).
    void TICK.then(answerBoth);
    return p;
  };
  return async (ms: number): Promise<number> => {
    const t0 = cpu();
    const end = performance.now() + ms;
    let n = 0;
    while (performance.now() < end) {
      for (let k = 0; k < 256; k++) await cycle();
      n += 256;
    }
    return ((cpu() - t0) * 1e9) / n;
  };
}

const med = (x: number[]): number => {
  const s = [...x].sort((p, q) => p - q);
  return s[s.length >> 1]!;
};

for (const side of SIDES) {
  const make = side === 'master' ? masterSide : side === 'owner' ? ownerSide : null;
  if (make === null) {
    console.log(`${side}: unknown side (master|owner)`);
    continue;
  }
  let runs: Run[];
  try {
    runs = [];
    for (const r of roots) runs.push(await make(r));
    for (const run of runs) await run(300); // warm-up
  } catch (err) {
    console.log(`${side}: FAILED ${(err as Error).message}`);
    continue;
  }
  const per: number[][] = runs.map(() => []);
  for (let i = 0; i < ROUNDS; i++) {
    const order = i % 2 ? [...runs.keys()].reverse() : [...runs.keys()];
    for (const k of order) per[k]!.push(await runs[k]!(MS));
  }
  const desc = per.map((x, k) => `${k === 0 ? 'A' : 'B'} median ${med(x).toFixed(0)} min ${Math.min(...x).toFixed(0)}`).join('; ');
  const ratio = per.length === 2 ? `; B/A per round median ${med(per[0]!.map((x, i) => per[1]![i]! / x)).toFixed(3)}` : '';
  console.log(`${side}: ns per cycle (${ROUNDS} rounds of ${MS} ms): ${desc}${ratio}`);
}
process.exit(0);

/**
 * Issue 12's "a service that moves: stopped on one host and started on
 * another; clients follow it", on the 7-host ring. A service program (a
 * Router linked to its host's relay) serves `mover` on h1; clients on h2 and
 * h5 call it by name through the mesh, one call every 50 ms. Then:
 *
 * 1. break-before-make: the program on h1 stops, then one starts on h4;
 * 2. make-before-break: one starts on h1 again, then the one on h4 stops
 *    (h5, next to h4, used h4 until it stopped; h2 moves to h1 when it appears).
 *
 * Each move is measured as a mesh event (the `mover` spans of every relay
 * converge to the new host; convergence time, span messages) and, per
 * client, from its calls: the gap, the calls lost in it, and where every
 * later call went. The caller asserts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostMesh } from './host-mesh.ts';
import { analyseMove, formatMoveTable, type Move, type MoveView } from './move-analysis.ts';
import { formatReport, type ReportRow } from './report.ts';
import { CallLoop } from './service-calls.ts';
import { ServiceProgram } from './service-program.ts';
import { expectedServiceSpans, type Topology } from './topology.ts';

export const MOVER = 'mover';

export interface MovingServiceRun {
  readonly breakBeforeMake: readonly MoveView[];
  readonly makeBeforeBreak: readonly MoveView[];
  readonly rows: readonly ReportRow[];
  readonly markdown: string;
  /** Calls made by each client over the whole run. */
  readonly totalCalls: number;
}

/** Run the scenario on `topology` (hosts A, B and the clients must exist in it). */
export async function runMovingService(topology: Topology, hosts: { a: string; b: string; clients: readonly string[] }, log: (l: string) => void): Promise<MovingServiceRun> {
  const safetyMs = 60_000;
  const mesh = await HostMesh.start({ topology, tag: 'mv', progress: log, safetyMs });
  const loops: CallLoop[] = [];
  const programs = new Set<ServiceProgram>();
  try {
    const running = new Set<string>();
    // Every live relay sees `mover` exactly on the hosts running it, at the right distance.
    const settled = (): string[] => {
      const want = expectedServiceSpans(topology, mesh.cutLinks(), mesh.liveHosts(), [...running]);
      const out: string[] = [];
      for (const [h, exp] of want) {
        const have = mesh.serviceTable(h, MOVER);
        const same = have.size === exp.size && [...exp].every(([i, d]) => have.get(i) === d);
        if (!same) out.push(`${h}: ${MOVER} want ${JSON.stringify([...exp])} have ${JSON.stringify([...have])}`);
      }
      return out;
    };
    const rows: ReportRow[] = [{ record: mesh.records[0]!, traffic: null }];
    const startOn = async (host: string): Promise<ServiceProgram> => {
      const p = await ServiceProgram.start(mesh, host, MOVER);
      programs.add(p);
      running.add(host);
      return p;
    };
    const stop = async (p: ServiceProgram): Promise<void> => {
      running.delete(p.host);
      await p.stop();
      programs.delete(p);
    };
    const ev = async (label: string, f: () => Promise<void>): Promise<void> => {
      rows.push({ record: await mesh.event('move', label, f, { service: MOVER, settled }), traffic: null });
    };

    let onA: ServiceProgram | undefined;
    await ev(`start ${MOVER} on ${hosts.a}`, async () => { onA = await startOn(hosts.a); });
    for (const c of hosts.clients) loops.push(new CallLoop(await mesh.client(c), MOVER));
    for (const l of loops) await l.answeredBy(hosts.a, 0, safetyMs);

    // 1. Break before make: stop on A, then start on B.
    let onB: ServiceProgram | undefined;
    let m1: { stopAt: number; stoppedAt: number; startAt: number } = { stopAt: 0, stoppedAt: 0, startAt: 0 };
    await ev(`stop ${MOVER} on ${hosts.a}, then start it on ${hosts.b}`, async () => {
      const stopAt = Date.now();
      await stop(onA!);
      const stoppedAt = Date.now();
      const startAt = Date.now();
      onB = await startOn(hosts.b);
      m1 = { stopAt, stoppedAt, startAt };
    });
    for (const l of loops) await l.answeredBy(hosts.b, m1.startAt, safetyMs);
    for (const l of loops) await l.callsSince(Date.now(), 20, safetyMs);

    // 2. Make before break: start on A again, then stop on B.
    const m2StartAt = Date.now();
    await ev(`start ${MOVER} on ${hosts.a} again`, async () => { onA = await startOn(hosts.a); });
    let m2: { stopAt: number; stoppedAt: number } = { stopAt: 0, stoppedAt: 0 };
    await ev(`then stop ${MOVER} on ${hosts.b}`, async () => {
      const stopAt = Date.now();
      await stop(onB!);
      m2 = { stopAt, stoppedAt: Date.now() };
    });
    for (const l of loops) await l.answeredBy(hosts.a, m2.stoppedAt, safetyMs);
    for (const l of loops) await l.callsSince(Date.now(), 20, safetyMs);
    for (const l of loops) await l.stop();

    const move1: Move = { from: hosts.a, to: hosts.b, ...m1, until: m2StartAt };
    const move2: Move = { from: hosts.b, to: hosts.a, startAt: m2StartAt, ...m2 };
    const clientOf = (l: CallLoop): string => hosts.clients[loops.indexOf(l)]!;
    const breakBeforeMake = loops.map((l) => analyseMove(clientOf(l), l.calls, move1));
    const makeBeforeBreak = loops.map((l) => analyseMove(clientOf(l), l.calls, move2));
    const totalCalls = loops.reduce((n, l) => n + l.calls.length, 0);
    const markdown = [
      formatReport({ scenario: `${MOVER} moving on ${topology.name}`, hosts: topology.hosts.length, links: topology.links.length, rows, total: null }),
      formatMoveTable(`stop on ${hosts.a}, then start on ${hosts.b}`, breakBeforeMake),
      formatMoveTable(`start on ${hosts.a}, then stop on ${hosts.b}`, makeBeforeBreak),
      `Service program (a Router linked to its host's relay) on ${hosts.a}, moved to ${hosts.b} and back; clients on ${hosts.clients.join(' and ')} call \`${MOVER}\` by name, one call at a time, 50 ms apart (${totalCalls} calls). Gap from stop = end of the first call answered on the new host minus the stop.\n`,
    ].join('\n');
    const dir = process.env['DMSG_HOSTS_REPORT_DIR'] ?? join(tmpdir(), 'dmsg-hosts-report');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `moving-service-${topology.name}.md`), markdown);
    log(`\n${markdown}(written to ${join(dir, `moving-service-${topology.name}.md`)})`);
    return { breakBeforeMake, makeBeforeBreak, rows, markdown, totalCalls };
  } finally {
    for (const l of loops) await l.stop();
    for (const p of programs) await p.stop().catch(() => undefined);
    await mesh.close();
  }
}

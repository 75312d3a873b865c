/**
 * Midcomms across test hosts: node A on host h3 and node B on host h0 of the
 * 7-host ring (each a Router linked to its host's `dmsg relay`) keep one
 * session while A streams numbered messages to B; on the path between them a
 * link is cut and restored and a relay is killed and restarted, then the
 * other way round. B must receive every message once and in order.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { midcomms, encodeDlmMessage, DLM_CMD } from '../../src/services/midcomms/index.ts';
import { Router } from '../../src/span/router.ts';
import { HostMesh } from './host-mesh.ts';
import { formatReport, type ReportRow } from './report.ts';
import { hostsSkipReason } from './skip.ts';
import { loadTopology } from './topology.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const why = hostsSkipReason();
const topo = loadTopology(fileURLToPath(new URL('./topologies/ring7.json', import.meta.url)));
const SAFETY_MS = 60_000;

/** An 88-byte DLM MSG carrying n (lockspace 1). */
function message(n: number): Uint8Array {
  const body = new Uint8Array(72);
  new DataView(body.buffer).setUint32(0, n, true);
  return encodeDlmMessage(DLM_CMD.MSG, 1, body);
}
const numberOf = (m: Uint8Array): number => new DataView(m.buffer, m.byteOffset, m.byteLength).getUint32(16, true);

if (why !== null) {
  describe('hosts: midcomms across hosts', () => {
    it.skip(`skipped: ${why}`, () => undefined);
  });
} else {
  describe('hosts: midcomms across hosts', () => {
    it('a numbered stream h3 -> h0 survives link cuts and relay kills on its path: nothing lost, duplicated or reordered', async () => {
      const log = (l: string): void => console.log(l);
      const mesh = await HostMesh.start({ topology: topo, tag: 'c', progress: log, safetyMs: SAFETY_MS });
      const a = new Router({ name: 'node-a' });
      const b = new Router({ name: 'node-b' });
      const mcA = midcomms(a);
      const mcB = midcomms(b);
      let stop = false;
      try {
        await mesh.attachRouter('h3', a);
        await mesh.attachRouter('h0', b);
        const seen = (from: Router, to: Router): boolean => from.spans('midcomms').some((s) => s.node === to.nodeId);
        for (let i = 0; i < 600 && !(seen(a, b) && seen(b, a)); i++) await new Promise((r) => setTimeout(r, 50));
        expect(seen(a, b) && seen(b, a), 'each node sees the other').toBe(true);

        const toB = mcA.session(b.nodeId);
        const fromA = mcB.session(a.nodeId);
        const got: number[] = [];
        fromA.messages$.subscribe((m) => got.push(numberOf(m)));

        // The stream: one message every 2 ms or so, waiting whenever the send window is full.
        let sent = 0;
        const sender = (async () => {
          while (!stop && sent < 1_000_000) {
            await toB.send(message(sent++));
            if (sent % 10 === 0) await new Promise((r) => setTimeout(r, 20));
          }
        })();
        const progressed = async (what: string): Promise<void> => {
          const target = got.length + 50;
          for (let i = 0; i < 600 && got.length < target; i++) await new Promise((r) => setTimeout(r, 50));
          if (got.length < target) {
            for (const h of topo.hosts) {
              const st = (await mesh.stats(h)) as { spans?: { service: string; instance: string; dist: number; viaName: string | null; path: string[] }[]; links?: { peerName: string | null }[] } | null;
              log(`${h}: links ${st?.links?.map((l) => l.peerName).join(',')}; midcomms spans ${JSON.stringify(st?.spans?.filter((x) => x.service === 'midcomms').map((x) => [x.instance, x.dist, x.viaName, x.path.length]))}`);
            }
          }
          expect(got.length, `the stream moves again after ${what}; A: ${JSON.stringify(toB.stats())}; B: ${JSON.stringify(fromA.stats())}; A sees B: ${seen(a, b)}, B sees A: ${seen(b, a)}; links A ${a.stats().links} B ${b.stats().links}; h3/h0 link events: ${[...mesh.logs('h3'), ...mesh.logs('h0')].filter((e) => /link\.down|keepalive|protocol|span\.(down|up).*midcomms/.test(e.event + e.msg)).map((e) => e.msg).join(' | ')}`).toBeGreaterThanOrEqual(target);
        };
        await progressed('start');
        // ring7: h3 reaches h0 by h2-h1 (3 hops) or h4-h5-h6 (4 hops).
        const rows: ReportRow[] = [];
        const ev = async (kind: Parameters<HostMesh['event']>[0], label: string, f: () => Promise<void>): Promise<void> => {
          rows.push({ record: await mesh.event(kind, label, f), traffic: null });
          await progressed(label);
        };
        const k12 = mesh.links.indexOf(mesh.link('h1', 'h2'));
        await ev('cut', 'cut h1-h2 (on the path)', () => mesh.cut([k12]));
        await ev('restore', 'restore h1-h2', () => mesh.restore([k12]));
        await ev('kill', 'SIGKILL h2 (on the path)', () => mesh.kill('h2'));
        await ev('restart', 'restart h2', () => mesh.restart('h2'));
        await ev('kill', 'SIGKILL h5 (on the other path)', () => mesh.kill('h5'));
        await ev('restart', 'restart h5', () => mesh.restart('h5'));
        await ev('freeze', 'SIGSTOP h1 (on the path)', () => mesh.freeze('h1'));
        await ev('thaw', 'SIGCONT h1', () => mesh.thaw('h1'));

        stop = true;
        await sender;
        await toB.sendAcked(message(sent++), { signal: AbortSignal.timeout(SAFETY_MS) });
        for (let i = 0; i < 600 && got.length < sent; i++) await new Promise((r) => setTimeout(r, 50));
        const firstBad = got.findIndex((v, i) => v !== i);
        const st = toB.stats();
        const summary = `${sent} sent, ${got.length} received, first out of place at ${firstBad}; A: ${st.channelsOpened} channels opened, ${st.retransmits} retransmitted`;
        log(summary);
        const dir = process.env['DMSG_HOSTS_REPORT_DIR'] ?? join(tmpdir(), 'dmsg-hosts-report');
        mkdirSync(dir, { recursive: true });
        const md = formatReport({ scenario: 'midcomms on ring7 (h3 -> h0)', hosts: topo.hosts.length, links: topo.links.length, rows: [{ record: mesh.records[0]!, traffic: null }, ...rows], total: null, notes: [`Midcomms stream: ${summary}.`] });
        writeFileSync(join(dir, 'midcomms-ring7.md'), md);
        log(md);
        expect(firstBad, summary).toBe(-1);
        expect(got.length, summary).toBe(sent);
        expect(st.channelsOpened, 'the session moved to new paths').toBeGreaterThan(1);
      } finally {
        stop = true;
        mcA.destroy();
        mcB.destroy();
        await a.close().catch(() => undefined);
        await b.close().catch(() => undefined);
        await mesh.close();
      }
    }, 600_000);
  });
}

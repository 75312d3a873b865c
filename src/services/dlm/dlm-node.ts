/**
 * A DLM node on a Router in one call, as the relay daemon runs it: midcomms
 * sessions, a `Dlm` over them, the lockspaces named joined with members from
 * spans, and the `dlm-admin` service that answers `dmsg locks`.
 *
 * ```ts
 * const node = await startDlmNode(router, { lockspaces: ['app'] });
 * const lk = await node.lockspace('app')!.lock('res', 'EX');
 * node.close();
 * ```
 *
 * The admin protocol (SVC codes in the DLM range, 0x100-0x1ff): the client
 * opens a transaction on `dlm-admin` with DLM_ADMIN_CMD.LOCKS, aux = the
 * lockspace name (UTF-8; empty for all), and closes its side. The node
 * answers with a `LocksReport` as JSON in one or more replies (each at most
 * DLM_ADMIN_CHUNK bytes of aux; the client concatenates) and closes.
 */
import { DMSG_ERR, DMSGF, SVC_CODE_BASE, svcCmd, type Router, type SpanInfo, type Transaction } from '../../span/index.ts';
import type { Clock } from '../../util/clock.ts';
import { midcomms, type Midcomms } from '../midcomms/index.ts';
import type { DlmLockspace } from './api.ts';
import { Dlm } from './dlm.ts';
import { DlmError } from './errors.ts';
import type { DumpResource, LockspaceStats } from './lockspace.ts';
import { MidcommsEndpoint, joinOverSpans, type SpanMembership } from './mesh-binding.ts';
import type { MeshViewsOptions } from './views/driver-mesh.ts';
import { FileViewsStore, viewsStoreFile } from './views/driver-store.ts';
import type { ViewsStats } from './views/driver.ts';
import { validateLockspaceName } from './options.ts';

/** The service every DLM node serves for inspection. */
export const DLM_ADMIN_SERVICE = 'dlm-admin';

/** Command words of the admin service (DLM range, after the message codes). */
export const DLM_ADMIN_CMD = Object.freeze({
  /** Ask for the lock dump (aux: a lockspace name, or empty for every lockspace). */
  LOCKS: svcCmd(SVC_CODE_BASE.DLM + 0x10),
});

/** Aux bytes per reply of the admin service. */
export const DLM_ADMIN_CHUNK = 60_000;
/** Resources listed per lockspace at most (the report says `truncated`); bounds the reply. */
export const DLM_ADMIN_MAX_RESOURCES = 10_000;
/** The report a client accepts at most (bytes). */
export const DLM_ADMIN_MAX_REPORT = 64 << 20;

export interface LockspaceReport {
  name: string;
  lvblen: number;
  /** Membership status: the views protocol's text with voters ('member of view 3 (granting)', 'minority: waiting ...'), or NO_VOTERS_STATE. */
  state?: string;
  /** The views driver's figures (term, role, view, granting, lease remaining, messages in/out/dropped), with voters. */
  views?: ViewsStats;
  /** DLM node ids, sorted. */
  members: number[];
  resources: DumpResource[];
  /** More resources exist than listed (DLM_ADMIN_MAX_RESOURCES). */
  truncated: boolean;
  stats: LockspaceStats;
}

export interface LocksReport {
  /** The router's name and node id, and its DLM node id. */
  node: string;
  nodeId: string;
  nodeid: number;
  lockspaces: LockspaceReport[];
}

export interface DlmNodeOptions {
  /** Lockspaces to join now (members from spans). @default [] */
  lockspaces?: readonly string[];
  /** LVB length of those lockspaces. @default LOCKSPACE_DEFAULTS.lvblen (32) */
  lvblen?: number;
  /** Clock of midcomms' and the DLM's timers (and the views driver's). @default systemClock */
  clock?: Clock;
  /**
   * The configured member list (DLM node ids) of every lockspace joined
   * here: membership goes through the views protocol (quorum of voters,
   * leases; docs/views.md). @default none: members follow spans, no
   * split-brain protection
   */
  voters?: readonly number[];
  /** Views timings (docs/views.md defaults); used only with `voters`. @default the documented defaults */
  views?: Omit<MeshViewsOptions, 'voters' | 'store' | 'clock'>;
  /**
   * Directory of the views state files (`views-<lockspace>.json`, fsynced,
   * replaced atomically): a restarted node resumes its Raft term, vote and
   * log. @default none: the state lives in memory (a restart starts over,
   * which is safe only if the node also comes back with a new identity)
   */
  viewsStateDir?: string;
}

export interface DlmNode {
  readonly dlm: Dlm;
  readonly midcomms: Midcomms;
  /** The joined lockspaces by name. */
  readonly memberships: ReadonlyMap<string, SpanMembership>;
  lockspace(name: string): DlmLockspace | undefined;
  /** What `dmsg locks` prints, for `name` or every lockspace. */
  report(name?: string): LocksReport;
  /** Stop serving, leave every lockspace (forced), close midcomms. Idempotent. */
  close(): void;
}

/** Start a DLM node on `router` and join `options.lockspaces`. */
export async function startDlmNode(router: Router, options: DlmNodeOptions = {}): Promise<DlmNode> {
  const names = [...new Set(options.lockspaces ?? [])];
  for (const n of names) validateLockspaceName(n);
  const mc = midcomms(router, options.clock ? { clock: options.clock } : {});
  const endpoint = new MidcommsEndpoint(router, mc);
  const dlm = new Dlm({ endpoint, ...(options.clock ? { clock: options.clock } : {}) });
  const memberships = new Map<string, SpanMembership>();
  let closed = false;
  const report = (name?: string): LocksReport => ({
    node: router.name,
    nodeId: router.nodeId,
    nodeid: dlm.nodeid,
    lockspaces: dlm.lockspaces
      .filter((ls) => name === undefined || name === '' || ls.name === name)
      .map((ls) => {
        const all = ls.dump();
        const m = memberships.get(ls.name);
        const views = m?.viewsStats ?? null;
        return {
          name: ls.name, lvblen: ls.lvblen, ...(m ? { state: m.state } : {}), ...(views ? { views } : {}),
          members: [...ls.members], resources: all.slice(0, DLM_ADMIN_MAX_RESOURCES), truncated: all.length > DLM_ADMIN_MAX_RESOURCES, stats: ls.stats,
        };
      }),
  });
  const service = router.serve(DLM_ADMIN_SERVICE, (tx) => answerAdmin(tx, report));
  const close = (): void => {
    if (closed) return;
    closed = true;
    service.close();
    for (const m of memberships.values()) m.close();
    dlm.close();
    endpoint.close();
    mc.destroy();
  };
  try {
    for (const n of names) {
      const views = options.voters === undefined ? {} : {
        voters: options.voters,
        views: { ...options.views, ...(options.clock ? { clock: options.clock } : {}), ...(options.viewsStateDir !== undefined ? { store: new FileViewsStore(viewsStoreFile(options.viewsStateDir, n), options.voters) } : {}) },
      };
      memberships.set(n, await joinOverSpans(router, dlm, n, { ...(options.lvblen === undefined ? {} : { lvblen: options.lvblen }), ...views }));
    }
  } catch (err) {
    close();
    throw err;
  }
  return {
    dlm,
    midcomms: mc,
    memberships,
    lockspace: (name) => memberships.get(name)?.lockspace,
    report,
    close,
  };
}

/** Answer one admin transaction. Never throws: a bad request aborts its transaction only. */
function answerAdmin(tx: Transaction, report: (name?: string) => LocksReport): void {
  let answered = false;
  tx.rx$.subscribe({
    next: (msg) => {
      if (answered || !tx.canSend) return;
      answered = true;
      if ((msg.header.cmd & DMSGF.BASECMDMASK) !== (DLM_ADMIN_CMD.LOCKS & DMSGF.BASECMDMASK) || msg.aux.length > 256) {
        tx.abort(DMSG_ERR.NOSUPP);
        return;
      }
      const name = new TextDecoder().decode(msg.aux);
      const text = new TextEncoder().encode(JSON.stringify(report(name)));
      for (let off = 0; off < text.length || off === 0; off += DLM_ADMIN_CHUNK) {
        tx.send(DLM_ADMIN_CMD.LOCKS, { aux: text.subarray(off, off + DLM_ADMIN_CHUNK) });
        if (text.length === 0) break;
      }
      tx.close();
    },
    complete: () => {
      if (tx.canSend) tx.close();
    },
    error: () => {},
  });
}

/**
 * Ask the DLM node behind `span` (a `dlm-admin` span) for its locks: the
 * report, parsed. Rejects with DlmError EPROTO on an answer that is not a
 * report, or the transaction's error.
 */
export async function fetchLocks(router: Router, span: SpanInfo, lockspace = ''): Promise<LocksReport> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const tx = router.open(span, DLM_ADMIN_CMD.LOCKS, { aux: new TextEncoder().encode(lockspace), delete: true });
  await new Promise<void>((resolve, reject) => {
    tx.rx$.subscribe({
      next: (m) => {
        total += m.aux.length;
        if (total > DLM_ADMIN_MAX_REPORT) {
          reject(new DlmError('EPROTO', `dlm-admin answer larger than ${DLM_ADMIN_MAX_REPORT} bytes`));
          if (!tx.freed) tx.abort(DMSG_ERR.NOSUPP);
          return;
        }
        if (m.aux.length > 0) parts.push(m.aux.slice());
        if (m.header.error) reject(new DlmError('EPROTO', `dlm-admin answered error 0x${m.header.error.toString(16)}`));
      },
      complete: () => resolve(),
      error: (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
    });
  });
  const bytes = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    bytes.set(p, off);
    off += p.length;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new DlmError('EPROTO', 'dlm-admin answer is not JSON');
  }
  const r = parsed as LocksReport;
  if (typeof r !== 'object' || r === null || typeof r.node !== 'string' || !Array.isArray(r.lockspaces) || !r.lockspaces.every((l) => typeof l?.name === 'string' && Array.isArray(l.resources))) {
    throw new DlmError('EPROTO', 'dlm-admin answer is not a locks report');
  }
  return r;
}

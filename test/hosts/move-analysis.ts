/**
 * What a client saw while a service moved (pure): from the client's call
 * records and the move's times, the gap (from the stop to the first call
 * answered on the new host), the calls that failed in it, and whether every
 * call after the first one answered on the new host reached the new host.
 */
import type { CallRecord } from './service-calls.ts';

/** One move of a service, as the scenario did it (Date.now() times). */
export interface Move {
  readonly from: string;
  readonly to: string;
  /** When the old program was told to stop, and when its stop() resolved. */
  readonly stopAt: number;
  readonly stoppedAt: number;
  /** When the new program was started (before stopAt for make-before-break). */
  readonly startAt: number;
  /** Calls that start at or after this belong to a later move. @default Infinity */
  readonly until?: number;
}

/** One client's view of a move. */
export interface MoveView {
  readonly client: string;
  /** Calls that started in the move's window (from the earlier of start/stop to `until`). */
  readonly calls: number;
  /** The first call answered on the new host: its end minus stopAt, ms (null if none). */
  readonly gapMs: number | null;
  /** Its end minus the end of the last call answered on the old host, ms (null if either is missing). */
  readonly answerGapMs: number | null;
  /** Calls ending after the last old answer (or the stop) and before the first new one that failed: lost, and no route. */
  readonly lostInGap: number;
  readonly norouteInGap: number;
  /** Calls that started after the first new answer, and how many of them the new host answered. */
  readonly after: number;
  readonly afterOnNew: number;
  /** Calls after the first new answer that did not reach the new host (as `seq outcome by`). */
  readonly afterElsewhere: readonly string[];
  /** Calls answered by the old host that started after its stop() resolved. */
  readonly oldAfterStopped: number;
  /** Answers beyond the first, over the window. */
  readonly duplicates: number;
}

/** The client's view of `move` from its call records. */
export function analyseMove(client: string, calls: readonly CallRecord[], move: Move): MoveView {
  const from = Math.min(move.startAt, move.stopAt);
  const until = move.until ?? Infinity;
  const win = calls.filter((c) => c.start >= from && c.start < until);
  const firstNew = win.find((c) => c.by === move.to && c.start >= move.startAt);
  // The last old answer may be of a call that started before the window (in flight at the stop).
  const lastOld = firstNew ? [...calls].reverse().find((c) => c.by === move.from && c.seq < firstNew.seq) : undefined;
  const gapStart = lastOld?.end ?? move.stopAt;
  const inGap = firstNew ? win.filter((c) => c.end > gapStart && c.seq < firstNew.seq) : [];
  const after = firstNew ? win.filter((c) => c.seq > firstNew.seq) : [];
  return {
    client,
    calls: win.length,
    gapMs: firstNew ? firstNew.end - move.stopAt : null,
    answerGapMs: firstNew && lastOld ? firstNew.end - lastOld.end : null,
    lostInGap: inGap.filter((c) => c.outcome === 'lost').length,
    norouteInGap: inGap.filter((c) => c.outcome === 'noroute').length,
    after: after.length,
    afterOnNew: after.filter((c) => c.by === move.to).length,
    afterElsewhere: after.filter((c) => c.by !== move.to).map((c) => `${c.seq} ${c.outcome} ${c.by ?? '-'}`),
    oldAfterStopped: win.filter((c) => c.by === move.from && c.start >= move.stoppedAt).length,
    duplicates: win.reduce((n, c) => n + c.extraAnswers, 0),
  };
}

/** The views of one move as a markdown table. */
export function formatMoveTable(title: string, views: readonly MoveView[]): string {
  const out = [
    `| ${title}: client on | calls | gap from stop ms | gap between answers ms | lost in gap | no route in gap | calls after | on new host | elsewhere | old host after stop | dup |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const v of views) {
    const gap = v.gapMs === null ? '-' : v.gapMs < 0 ? `moved ${-v.gapMs} ms before the stop` : String(v.gapMs);
    out.push(`| ${v.client} | ${v.calls} | ${gap} | ${v.answerGapMs ?? '-'} | ${v.lostInGap} | ${v.norouteInGap} | ${v.after} | ${v.afterOnNew} | ${v.afterElsewhere.length} | ${v.oldAfterStopped} | ${v.duplicates} |`);
  }
  return out.join('\n') + '\n';
}

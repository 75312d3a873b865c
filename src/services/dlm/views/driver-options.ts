/**
 * Options of the views driver (the membership-view protocol on the mesh),
 * validated in one place: the protocol's timings (options.ts) plus what the
 * driver adds — the clock-drift margin on leases and the message bounds.
 */
import { resolveViewsOptions, ViewsOptionsError } from './options.ts';
import type { NodeId, ViewsConfig } from './types.ts';

/** What `joinOverSpans` / `startDlmNode` take as `views` options (everything but `voters` has a default). */
export interface ViewsDriverOptions {
  /** The configured member list (DLM node ids). Required, non-empty, no duplicates, includes this node. */
  readonly voters: readonly NodeId[];
  /** Lower bound of the election timeout, ms. @default 150 */
  readonly electionMin?: number;
  /** Upper bound of the election timeout, ms. @default 300 */
  readonly electionMax?: number;
  /** Leader heartbeat interval, ms. @default 50 */
  readonly heartbeatInterval?: number;
  /** Granting lease, ms (and a new leader's wait). Must exceed heartbeatInterval + driftMargin. @default 400 */
  readonly lease?: number;
  /**
   * Clock-drift margin, ms: a node stops granting this long before the end
   * of its lease. Leases compare absolute times of different nodes' clocks,
   * so this must cover the largest offset between two nodes' clocks plus
   * their drift over one lease (same host: 0 offset; NTP across hosts: a few
   * ms). @default 50
   */
  readonly driftMargin?: number;
  /** Entries carried by one AppendEntries at most (a follower catching up gets the rest in later rounds). @default 64 */
  readonly maxEntriesPerMessage?: number;
  /** Seed of the election-timeout generator. @default derived from the node id */
  readonly seed?: number;
}

/** Validated driver configuration. */
export interface ViewsDriverConfig {
  readonly views: ViewsConfig;
  readonly driftMargin: number;
  readonly maxEntriesPerMessage: number;
}

/** Defaults of the fields the driver adds (the protocol's own are in options.ts). */
export const VIEWS_DRIVER_DEFAULTS = Object.freeze({ driftMargin: 50, maxEntriesPerMessage: 64 });

/** Largest member list a view may name (bounds every message and the persisted file). */
export const VIEWS_MAX_VOTERS = 255;

/** Validate the driver's options for node `self` and fill the documented defaults. @throws ViewsOptionsError */
export function resolveViewsDriverOptions(self: NodeId, o: ViewsDriverOptions): ViewsDriverConfig {
  if (typeof o !== 'object' || o === null || !Array.isArray(o.voters)) throw new ViewsOptionsError('views: voters must be an array of DLM node ids');
  if (o.voters.length > VIEWS_MAX_VOTERS) throw new ViewsOptionsError(`views: at most ${VIEWS_MAX_VOTERS} voters, got ${o.voters.length}`);
  for (const v of o.voters) {
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff) throw new ViewsOptionsError(`views: voter ${String(v)} is not a DLM node id (an integer in [1, 2^32-1])`);
  }
  const views = resolveViewsOptions({
    self,
    voters: o.voters,
    ...(o.electionMin !== undefined ? { electionMin: o.electionMin } : {}),
    ...(o.electionMax !== undefined ? { electionMax: o.electionMax } : {}),
    ...(o.heartbeatInterval !== undefined ? { heartbeatInterval: o.heartbeatInterval } : {}),
    ...(o.lease !== undefined ? { lease: o.lease } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  });
  const driftMargin = o.driftMargin ?? VIEWS_DRIVER_DEFAULTS.driftMargin;
  if (!Number.isFinite(driftMargin) || driftMargin < 0) throw new ViewsOptionsError(`views: driftMargin must be a number >= 0, got ${driftMargin}`);
  if (views.lease <= views.heartbeatInterval + driftMargin) {
    throw new ViewsOptionsError(`views: lease (${views.lease}) must exceed heartbeatInterval + driftMargin (${views.heartbeatInterval} + ${driftMargin}), or no lease would ever let a node grant`);
  }
  const maxEntriesPerMessage = o.maxEntriesPerMessage ?? VIEWS_DRIVER_DEFAULTS.maxEntriesPerMessage;
  if (!Number.isInteger(maxEntriesPerMessage) || maxEntriesPerMessage < 1 || maxEntriesPerMessage > 1024) {
    throw new ViewsOptionsError(`views: maxEntriesPerMessage must be an integer in [1, 1024], got ${maxEntriesPerMessage}`);
  }
  return { views, driftMargin, maxEntriesPerMessage };
}

/**
 * Options of the membership-view protocol, validated in one place.
 */
import type { NodeId, ViewsConfig } from './types.ts';

export interface ViewsOptions {
  /** This node's id; must be one of `voters`. */
  readonly self: NodeId;
  /** The configured member list (voters). Required, at least 1, no duplicates. */
  readonly voters: readonly NodeId[];
  /** Lower bound of the election timeout. Default 150. */
  readonly electionMin?: number;
  /** Upper bound of the election timeout. Default 300. */
  readonly electionMax?: number;
  /** Leader heartbeat interval. Default 50. */
  readonly heartbeatInterval?: number;
  /** Granting lease length (and a new leader's wait). Default 400; must exceed heartbeatInterval. */
  readonly lease?: number;
  /** Seed of the election-timeout generator. Default: derived from `self`. */
  readonly seed?: number;
}

/** Thrown for invalid options; `code` is stable. */
export class ViewsOptionsError extends Error {
  readonly code = 'VIEWS_BAD_OPTION' as const;
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new ViewsOptionsError(`views: ${name} must be a positive number, got ${v}`);
  return v;
}

/** Validate options and fill the documented defaults. */
export function resolveViewsOptions(o: ViewsOptions): ViewsConfig {
  const voters = [...o.voters].sort((a, b) => a - b);
  if (voters.length === 0) throw new ViewsOptionsError('views: voters must not be empty');
  if (new Set(voters).size !== voters.length) throw new ViewsOptionsError('views: voters must not repeat');
  if (!voters.includes(o.self)) throw new ViewsOptionsError(`views: self ${o.self} is not a voter`);
  const electionMin = positive('electionMin', o.electionMin ?? 150);
  const electionMax = positive('electionMax', o.electionMax ?? 300);
  if (electionMax < electionMin) throw new ViewsOptionsError('views: electionMax must be >= electionMin');
  const heartbeatInterval = positive('heartbeatInterval', o.heartbeatInterval ?? 50);
  const lease = positive('lease', o.lease ?? 400);
  if (lease <= heartbeatInterval) throw new ViewsOptionsError('views: lease must exceed heartbeatInterval');
  const seed = (o.seed ?? o.self * 2654435761 + 1) >>> 0 || 1;
  return { self: o.self, voters, electionMin, electionMax, heartbeatInterval, lease, seed };
}

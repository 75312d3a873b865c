/**
 * Span-layer limits: one interface, frozen defaults, one validating resolver.
 * These bound what a peer can make us hold (spans per link, in total, path
 * length) and how much we relay (paths per node and link, dist cap).
 */
import { InvalidArgumentError } from '../wire/errors.ts';

export interface SpanOptions {
  /**
   * How many of a node's best links are relayed on each outgoing link.
   * DragonFly meant 2 and relayed 1 (`maxcount` off by one).
   * @default 1
   */
  maxRelayedPaths?: number;
  /**
   * A link whose dist is larger than this is not relayed. With path vectors
   * this is a sanity limit, not the loop guard (DragonFly: 16, which cut a
   * 100-router ring at 69). High enough that a 1000-router line converges;
   * the real bound on a path is maxPathLength.
   * @default 1024
   */
  maxDist?: number;
  /**
   * Received spans accepted per link (conn); more are refused.
   * Local advertisements are not counted.
   * @default 4096
   */
  maxSpansPerLink?: number;
  /**
   * Received spans accepted in total over all links.
   * @default 65536
   */
  maxSpansTotal?: number;
  /**
   * Longest accepted path vector (node ids). A received span with a longer
   * path is refused; a relay whose path would exceed it is not made. So a
   * span reaches routers at most maxPathLength hops from its originator
   * (a 1024-router line end to end). A path record costs 20 bytes per id.
   * @default 1024
   */
  maxPathLength?: number;
  /**
   * Path ids held over all received spans (the sum of their path lengths):
   * the memory budget of path vectors (about 64 bytes per id held), so long
   * paths on many spans cannot add up to gigabytes. A span past it is refused.
   * @default 1048576
   */
  maxPathIdsTotal?: number;
  /**
   * How long a router remembers a withdrawn advertisement or a lost link
   * (to refuse stale copies still on their way), in ms of the router's clock.
   * @default 600000 (10 minutes)
   */
  lossMemoryMs?: number;
  /**
   * How long a remote span whose last path was lost (not withdrawn) is held
   * before spans$ reports `down` and members$ `leave`, in ms of the router's
   * clock: a repair that comes back in time is reported as one `changed`
   * (down-grace.ts). While held, the span is left out of spans(), members()
   * and open(). 0 reports `down` at once (no grace).
   * @default 4000 (DOWN_GRACE_MS: twice the repair-hold bound)
   */
  downGraceMs?: number;
  /**
   * Origin-loss holds (origin-loss-hold.ts), in ms of the router's clock: an
   * instance whose paths were pruned for two different lost links next to
   * its originator within this time is not re-announced while paths to it
   * remain (its dead relays are still closed), for at most this long. Cuts
   * the span messages of a dead router's d links from about d - 1 per
   * directed link to about 3; the cost: after two cuts next to a live
   * originator within this time, its replacement paths are announced only
   * when the hold runs out. 0 turns it off.
   * @default 0 (off)
   */
  originLossHoldMs?: number;
}

export type ResolvedSpanOptions = Readonly<Required<SpanOptions>>;

export const SPAN_DEFAULTS: ResolvedSpanOptions = Object.freeze({
  maxRelayedPaths: 1,
  maxDist: 1024,
  maxSpansPerLink: 4096,
  maxSpansTotal: 65536,
  maxPathLength: 1024,
  maxPathIdsTotal: 1 << 20,
  lossMemoryMs: 600_000,
  downGraceMs: 4000,
  originLossHoldMs: 0,
});

/** [min, max] of every option (inclusive). */
const RANGES: { readonly [K in keyof Required<SpanOptions>]: readonly [number, number] } = {
  maxRelayedPaths: [1, 64],
  maxDist: [0, 0x7fffffff],
  maxSpansPerLink: [1, 1 << 24],
  maxSpansTotal: [1, 1 << 26],
  // The path record's count is a u16.
  maxPathLength: [1, 0xffff],
  maxPathIdsTotal: [1, 1 << 28],
  lossMemoryMs: [1, 0x7fffffff],
  downGraceMs: [0, 0x7fffffff],
  originLossHoldMs: [0, 0x7fffffff],
};

/** Returns a new, frozen, validated options object; throws InvalidArgumentError. */
export function resolveSpanOptions(partial: SpanOptions = {}): ResolvedSpanOptions {
  if (typeof partial !== 'object' || partial === null) {
    throw new InvalidArgumentError(`span options must be an object, got ${String(partial)}`);
  }
  for (const key of Object.keys(partial)) {
    if (!Object.hasOwn(RANGES, key)) {
      throw new InvalidArgumentError(
        `unknown span option ${JSON.stringify(key)}; known: ${Object.keys(RANGES).join(', ')}`,
      );
    }
  }
  const out: Record<keyof Required<SpanOptions>, number> = { ...SPAN_DEFAULTS };
  for (const key of Object.keys(RANGES) as (keyof Required<SpanOptions>)[]) {
    const value = partial[key];
    if (value === undefined) continue;
    const [min, max] = RANGES[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`${key} must be an integer in [${min}, ${max}], got ${String(value)}`);
    }
    out[key] = value;
  }
  if (out.maxSpansPerLink > out.maxSpansTotal) {
    throw new InvalidArgumentError(
      `maxSpansPerLink (${out.maxSpansPerLink}) must not exceed maxSpansTotal (${out.maxSpansTotal})`,
    );
  }
  return Object.freeze(out);
}

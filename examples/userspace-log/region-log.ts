/**
 * The log itself: a dirty-region log per (uuid, luid), as the userspace
 * server keeps it (dm-log-userspace's "core" log semantics): regions marked
 * (being written) are not clean; regions are in sync or not; resync work is
 * the first region out of sync and not yet handed out. `handle()` answers
 * one request; the state lives in a `LogStore` that outlives a server
 * process (it stands for the log device), so a restarted server carries on.
 */
import { ERRNO, ULOG, readU64s, u64, type UlogRequest } from './request.ts';

interface RegionLog {
  regionSize: bigint;
  regionCount: number;
  marked: Uint32Array; // mark counts per region
  inSync: Uint8Array;
  recovering: Set<number>;
  suspended: boolean;
}

/** The logs, by uuid and luid (the persistent part). */
export class LogStore {
  readonly logs = new Map<string, RegionLog>();
  /** The highest DLM fencing token a server has used the store under (0: none yet). */
  fence = 0;

  /**
   * May a server holding fencing token `token` use the store? Not when a
   * higher token was seen: its lock went to another server (it was paused,
   * or cut off and excluded by the survivors' DLM recovery, without
   * knowing). Otherwise yes, and the high-water mark rises to `token`.
   */
  admit(token: number): boolean {
    if (token < this.fence) return false;
    this.fence = token;
    return true;
  }
}

const key = (r: UlogRequest): string => `${r.uuid}/${r.luid}`;
const MAX_REGIONS = 1 << 20;

/** Answer one request: { error, data }. Never throws on bad input. */
export function handleRequest(store: LogStore, r: UlogRequest): { error: number; data: Uint8Array } {
  const ok = (data: Uint8Array = new Uint8Array(0)) => ({ error: 0, data });
  const fail = (error: number) => ({ error, data: new Uint8Array(0) });
  if (r.type === ULOG.CTR) {
    const [regionSize, count] = readU64s(r.data);
    if (!regionSize || count === undefined || count < 1n || count > BigInt(MAX_REGIONS)) return fail(ERRNO.EINVAL);
    if (!store.logs.has(key(r))) {
      const n = Number(count);
      store.logs.set(key(r), { regionSize, regionCount: n, marked: new Uint32Array(n), inSync: new Uint8Array(n), recovering: new Set(), suspended: false });
    }
    return ok();
  }
  const log = store.logs.get(key(r));
  if (!log) return fail(ERRNO.EINVAL);
  const region = (i: bigint | undefined): number | undefined => (i !== undefined && i < BigInt(log.regionCount) ? Number(i) : undefined);
  switch (r.type) {
    case ULOG.DTR:
      store.logs.delete(key(r));
      return ok();
    case ULOG.PRESUSPEND:
    case ULOG.POSTSUSPEND:
      log.suspended = true;
      return ok();
    case ULOG.RESUME:
      log.suspended = false;
      log.recovering.clear();
      return ok();
    case ULOG.GET_REGION_SIZE:
      return ok(u64(log.regionSize));
    case ULOG.IS_CLEAN:
    case ULOG.IN_SYNC: {
      const i = region(readU64s(r.data)[0]);
      if (i === undefined) return fail(ERRNO.EINVAL);
      return ok(u64(r.type === ULOG.IS_CLEAN ? (log.marked[i] === 0 ? 1n : 0n) : BigInt(log.inSync[i]!)));
    }
    case ULOG.FLUSH:
      return ok();
    case ULOG.MARK_REGION:
    case ULOG.CLEAR_REGION: {
      const rs = readU64s(r.data).map(region);
      if (rs.some((i) => i === undefined)) return fail(ERRNO.EINVAL);
      for (const i of rs as number[]) {
        if (r.type === ULOG.MARK_REGION) log.marked[i]!++;
        else if (log.marked[i]! > 0) log.marked[i]!--;
      }
      return ok();
    }
    case ULOG.GET_RESYNC_WORK: {
      for (let i = 0; i < log.regionCount; i++) {
        if (!log.inSync[i] && !log.recovering.has(i)) {
          log.recovering.add(i);
          return ok(u64(1n, BigInt(i)));
        }
      }
      return ok(u64(0n, 0n));
    }
    case ULOG.SET_REGION_SYNC: {
      const [ri, sync] = readU64s(r.data);
      const i = region(ri);
      if (i === undefined) return fail(ERRNO.EINVAL);
      log.inSync[i] = sync ? 1 : 0;
      log.recovering.delete(i);
      return ok();
    }
    case ULOG.GET_SYNC_COUNT:
      return ok(u64(BigInt(log.inSync.reduce((a, b) => a + b, 0))));
    case ULOG.STATUS_INFO:
    case ULOG.STATUS_TABLE:
      return ok(new TextEncoder().encode(`${r.uuid} ${log.inSync.reduce((a, b) => a + b, 0)}/${log.regionCount}`));
    case ULOG.IS_REMOTE_RECOVERING:
      return ok(u64(0n, 0n));
    default:
      return fail(ERRNO.EINVAL);
  }
}

/**
 * Stable storage of the views protocol's `Persisted` state (Raft Figure 2:
 * currentTerm, votedFor, log). The driver saves before it sends the step's
 * messages, synchronously, so a vote or an acknowledged entry is on disk
 * before anyone hears of it.
 *
 * `FileViewsStore` writes a temporary file, fsyncs it, renames it over the
 * old one and fsyncs the directory: a crash leaves the old file or the new
 * one, never a torn one. The file carries a format tag and a SHA-256 of its
 * body; `load()` checks both and every field, and throws `ViewsStoreError`
 * (code VIEWS_STORE_CORRUPT) on a bad file rather than starting from a
 * state that could make this node vote twice.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkPersisted } from './driver-codec.ts';
import type { NodeId, Persisted } from './types.ts';

/** Where the driver keeps `Persisted`. Both methods are synchronous: the driver saves before it sends. */
export interface ViewsStore {
  /** The saved state, or null when nothing was saved yet. @throws ViewsStoreError on a bad file */
  load(): Persisted | null;
  /** Save durably (or throw: the driver then sends nothing and keeps its old state). */
  save(state: Persisted): void;
}

export type ViewsStoreErrorCode = 'VIEWS_STORE_CORRUPT' | 'VIEWS_STORE_IO';

/** A store that cannot read or write; `code` is stable. */
export class ViewsStoreError extends Error {
  readonly code: ViewsStoreErrorCode;
  constructor(code: ViewsStoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = 'ViewsStoreError';
  }
}

/** Keeps the state in memory: survives a driver restart in the same process (tests, simulations), not a crash of the process. */
export class MemoryViewsStore implements ViewsStore {
  #state: Persisted | null = null;
  /** Saves done. */
  saves = 0;

  load(): Persisted | null {
    return this.#state;
  }

  save(state: Persisted): void {
    this.#state = { currentTerm: state.currentTerm, votedFor: state.votedFor, log: [...state.log] };
    this.saves++;
  }
}

/** The file format tag (first field of the JSON document). */
export const VIEWS_FILE_FORMAT = 'dmsg-views/1';
/** Largest file `load()` reads. */
export const VIEWS_FILE_MAX_BYTES = 64 << 20;

function digest(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}

/** A file on disk, replaced atomically at each save. `voters` is used to check what is loaded. */
export class FileViewsStore implements ViewsStore {
  readonly path: string;
  readonly #voters: readonly NodeId[];
  saves = 0;

  constructor(path: string, voters: readonly NodeId[]) {
    this.path = path;
    this.#voters = [...voters];
  }

  load(): Persisted | null {
    let text: string;
    try {
      const st = statSync(this.path, { throwIfNoEntry: false });
      if (st === undefined) return null;
      if (st.size > VIEWS_FILE_MAX_BYTES) throw new ViewsStoreError('VIEWS_STORE_CORRUPT', `${this.path}: ${st.size} bytes, more than ${VIEWS_FILE_MAX_BYTES}`);
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if (err instanceof ViewsStoreError) throw err;
      throw new ViewsStoreError('VIEWS_STORE_IO', `${this.path}: cannot read: ${(err as Error).message}`, { cause: err });
    }
    const bad = (why: string, cause?: unknown): ViewsStoreError => new ViewsStoreError('VIEWS_STORE_CORRUPT', `${this.path}: ${why}`, cause === undefined ? undefined : { cause });
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw bad('not JSON', err);
    }
    const d = doc as { format?: unknown; sha256?: unknown; body?: unknown };
    if (typeof d !== 'object' || d === null || d.format !== VIEWS_FILE_FORMAT) throw bad(`not a ${VIEWS_FILE_FORMAT} file`);
    if (typeof d.body !== 'string' || typeof d.sha256 !== 'string') throw bad('missing body or checksum');
    if (digest(d.body) !== d.sha256) throw bad('checksum mismatch');
    try {
      return checkPersisted(JSON.parse(d.body), this.#voters);
    } catch (err) {
      throw bad(`bad state: ${(err as Error).message}`, err);
    }
  }

  save(state: Persisted): void {
    const body = JSON.stringify({ currentTerm: state.currentTerm, votedFor: state.votedFor, log: state.log });
    const text = JSON.stringify({ format: VIEWS_FILE_FORMAT, sha256: digest(body), body });
    const tmp = `${this.path}.tmp`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        const bytes = Buffer.from(text, 'utf8');
        for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
      syncDir(dirname(this.path));
    } catch (err) {
      throw new ViewsStoreError('VIEWS_STORE_IO', `${this.path}: cannot save: ${(err as Error).message}`, { cause: err });
    }
    this.saves++;
  }
}

/** fsync a directory so a rename in it is durable (not supported everywhere: then skipped). */
function syncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // Some platforms refuse fsync on a directory.
  } finally {
    closeSync(fd);
  }
}

/** The file a lockspace's views state is kept in, inside `dir` (one file per lockspace name). */
export function viewsStoreFile(dir: string, lockspace: string): string {
  return join(dir, `views-${encodeURIComponent(lockspace)}.json`);
}

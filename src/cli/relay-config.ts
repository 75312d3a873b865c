/**
 * `dmsg relay` settings: a JSON config file with the same option names as
 * the flags, merged with the command line (a flag given on the command line
 * replaces the file's value; repeatable flags replace the file's whole
 * list), validated, then turned into a RelayConfig (key and TLS files read).
 *
 * Config file example:
 *   { "name": "edge-1", "listen": ["0.0.0.0:5700"], "connect": ["core-1:5700"],
 *     "advertise": ["echo/edge-1"], "key": "edge-1.key", "allow-key": ["core-1.key.pub"] }
 * Relative file paths in it are relative to the config file's directory.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './command.ts';
import { parseEndpoint } from './address.ts';
import { loadKeyPair, loadPublicKey } from './keys.ts';
import { parseServiceSpec, type RelayConfig } from './relay-daemon.ts';
import { validateLabel } from '../span/service-id.ts';
import type { BudgetOptions } from '../iocom/options.ts';
import { LOG_FORMATS, LOG_LEVELS } from './ops/event-log.ts';
import { parseMetricsAddress } from './ops/relay-ops.ts';
import { validateLockspaceName } from '../services/dlm/index.ts';
import { nodeidOf } from '../services/midcomms/index.ts';

const CMD = 'relay';

/** Merged settings, still as text (what --print-config shows). */
export interface RelaySettings {
  name?: string;
  listen: string[];
  connect: string[];
  advertise: string[];
  key?: string;
  'allow-key': string[];
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-ca'?: string;
  'backoff-min-ms'?: number;
  'backoff-max-ms'?: number;
  /** Daemon-wide budgets (see src/iocom/budget.ts and docs/limits.md). */
  'max-connections'?: number;
  'max-unauthenticated'?: number;
  'max-buffered-bytes'?: number;
  'max-queued-bytes'?: number;
  'max-transactions'?: number;
  /** Per link: queued bytes past which the link is shed. */
  'link-max-queued-bytes'?: number;
  /** Per link: open transactions (a table full of ones the peer owes a DELETE sheds the link). */
  'link-max-transactions'?: number;
  /** Per link: how long a peer has to authenticate. */
  'handshake-timeout-ms'?: number;
  /** Per link: bytes of one message held for a peer that has not authenticated. */
  'pre-auth-buffer-bytes'?: number;
  /** Ops HTTP server (metrics, health, status page): HOST:PORT. */
  metrics?: string;
  /** Log format: text (default) or json. */
  log?: string;
  /** Least level logged: debug, info (default), warn, error. */
  'log-level'?: string;
  /** DLM lockspaces to join (flag: --lockspace NAME, repeated). */
  lockspaces?: string[];
  /** Voters of those lockspaces: DLM node ids or router node ids (UUIDs), comma-separated (docs/views.md). */
  voters?: string;
  /** Directory of the views state files (a restarted relay resumes its Raft state). */
  'views-dir'?: string;
}

const LISTS = ['listen', 'connect', 'advertise', 'allow-key', 'lockspaces'] as const;
/** Settings of the daemon-wide Budget, by BudgetOptions name. */
const BUDGET_SETTINGS = {
  'max-connections': 'maxConnections',
  'max-unauthenticated': 'maxUnauthenticated',
  'max-buffered-bytes': 'maxBufferedBytes',
  'max-queued-bytes': 'maxQueuedBytes',
  'max-transactions': 'maxTransactions',
} as const satisfies Record<string, keyof BudgetOptions>;
const BUDGET_KEYS = Object.keys(BUDGET_SETTINGS) as (keyof typeof BUDGET_SETTINGS)[];
const STRINGS = ['name', 'key', 'tls-cert', 'tls-key', 'tls-ca', 'metrics', 'log', 'log-level', 'voters', 'views-dir'] as const;
/** Positive integer settings, the same as flags (`--max-connections 512`). */
export const NUMBERS = ['backoff-min-ms', 'backoff-max-ms', ...BUDGET_KEYS, 'link-max-queued-bytes', 'link-max-transactions', 'handshake-timeout-ms', 'pre-auth-buffer-bytes'] as const;
/** Options that name files (resolved against the config file's directory). */
const FILES = new Set(['key', 'allow-key', 'tls-cert', 'tls-key', 'tls-ca', 'views-dir']);
export const CONFIG_KEYS: readonly string[] = [...STRINGS, ...LISTS, ...NUMBERS];

export type PartialSettings = Partial<RelaySettings>;

/** Read and check a config file. Throws UsageError (exit 2) for a missing file, bad JSON or unknown keys. */
export function readConfigFile(path: string): PartialSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--config ${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, CMD);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--config ${path}: not valid JSON: ${(err as Error).message}`, CMD);
  }
  return parseConfigObject(json, `--config ${path}`, dirname(resolve(path)));
}

/** Check a parsed config object; file paths are resolved against `baseDir`. */
export function parseConfigObject(json: unknown, where: string, baseDir: string): PartialSettings {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UsageError(`${where}: must hold a JSON object`, CMD);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) {
    const rel = (p: string): string => (FILES.has(k) ? resolve(baseDir, p) : p);
    if ((LISTS as readonly string[]).includes(k)) {
      const list = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw new UsageError(`${where}: "${k}" must be a string or an array of strings`, CMD);
      out[k] = (list as string[]).map(rel);
    } else if ((STRINGS as readonly string[]).includes(k)) {
      if (typeof v !== 'string') throw new UsageError(`${where}: "${k}" must be a string`, CMD);
      out[k] = rel(v);
    } else if ((NUMBERS as readonly string[]).includes(k)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new UsageError(`${where}: "${k}" must be a positive integer`, CMD);
      out[k] = v;
    } else {
      throw new UsageError(`${where}: unknown option "${k}"; known: ${CONFIG_KEYS.join(', ')}`, CMD);
    }
  }
  return out as PartialSettings;
}

/** File settings, then flags on top (a given flag replaces the file's value or list). */
export function mergeSettings(file: PartialSettings, flags: PartialSettings): RelaySettings {
  const merged: RelaySettings = { listen: [], connect: [], advertise: [], 'allow-key': [] };
  for (const src of [file, flags]) {
    for (const [k, v] of Object.entries(src)) {
      if (v === undefined) continue;
      if (Array.isArray(v) && v.length === 0 && src === flags) continue;
      (merged as unknown as Record<string, unknown>)[k] = Array.isArray(v) ? [...v] : v;
    }
  }
  return merged;
}

/** Check what can be checked without I/O. Throws UsageError. */
export function validateSettings(s: RelaySettings): void {
  if (s.listen.length === 0 && s.connect.length === 0) throw new UsageError('nothing to do: give at least one --listen or --connect (or put them in --config)', CMD);
  for (const l of s.listen) parseEndpoint(l, 'listen', '--listen', CMD);
  for (const c of s.connect) parseEndpoint(c, 'connect', '--connect', CMD);
  for (const a of s.advertise) {
    try {
      const spec = parseServiceSpec(a);
      validateLabel('service name', spec.service);
      if (spec.instance !== undefined) validateLabel('instance name', spec.instance);
    } catch (err) {
      throw new UsageError(`--advertise: ${(err as Error).message}`, CMD);
    }
  }
  for (const l of s.lockspaces ?? []) {
    try {
      validateLockspaceName(l);
    } catch (err) {
      throw new UsageError(`--lockspace: ${(err as Error).message}`, CMD);
    }
  }
  if (s.voters !== undefined) {
    parseVoters(s.voters);
    if ((s.lockspaces ?? []).length === 0) throw new UsageError('--voters needs --lockspace', CMD);
  }
  if (s['views-dir'] !== undefined && s.voters === undefined) throw new UsageError('--views-dir needs --voters', CMD);
  if (s.name !== undefined) {
    if (s.name === '') throw new UsageError('--name must not be empty', CMD);
    try {
      validateLabel('--name', s.name);
    } catch (err) {
      throw new UsageError((err as Error).message, CMD);
    }
  }
  const tlsGiven = s['tls-cert'] !== undefined || s['tls-key'] !== undefined || s['tls-ca'] !== undefined;
  if (tlsGiven && (s['tls-cert'] === undefined || s['tls-key'] === undefined)) throw new UsageError('TLS needs both --tls-cert and --tls-key', CMD);
  const min = s['backoff-min-ms'];
  const max = s['backoff-max-ms'];
  if (min !== undefined && max !== undefined && max < min) throw new UsageError(`--backoff-max-ms (${max}) must be >= --backoff-min-ms (${min})`, CMD);
  if (s.metrics !== undefined) {
    try {
      parseMetricsAddress(s.metrics);
    } catch (err) {
      throw new UsageError((err as Error).message, CMD);
    }
  }
  if (s.log !== undefined && !(LOG_FORMATS as readonly string[]).includes(s.log)) throw new UsageError(`--log must be one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(s.log)}`, CMD);
  if (s['log-level'] !== undefined && !(LOG_LEVELS as readonly string[]).includes(s['log-level'])) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(s['log-level'])}`, CMD);
  const tlsListen = s.listen.some((l) => l.startsWith('tls:')) || s.connect.some((c) => c.startsWith('tls:'));
  if (tlsListen && !tlsGiven) throw new UsageError('a tls: address needs --tls-cert and --tls-key', CMD);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `--voters 1,2,3`: DLM node ids (decimal, as `dmsg locks` prints them) or
 * router node ids (UUIDs: their DLM node id is derived). Throws UsageError.
 */
export function parseVoters(text: string): number[] {
  const out: number[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (/^\d+$/.test(item) && Number(item) >= 1 && Number(item) <= 0xffffffff) out.push(Number(item));
    else if (UUID.test(item)) out.push(nodeidOf(item.toLowerCase()));
    else throw new UsageError(`--voters: ${JSON.stringify(item)} is neither a DLM node id (1..4294967295) nor a router node id (UUID)`, CMD);
  }
  if (new Set(out).size !== out.length) throw new UsageError('--voters: a voter is named twice', CMD);
  return out;
}

function readFile(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, CMD);
  }
}

/** Settings → RelayConfig: reads the key and TLS files. Throws UsageError. */
export function toRelayConfig(s: RelaySettings): RelayConfig {
  const config: RelayConfig = { listen: s.listen, connect: s.connect, advertise: s.advertise };
  if (s.name !== undefined) config.name = s.name;
  if (s.metrics !== undefined) config.metrics = s.metrics;
  if (s.lockspaces !== undefined && s.lockspaces.length > 0) config.lockspaces = s.lockspaces;
  if (s.voters !== undefined) config.voters = parseVoters(s.voters);
  if (s['views-dir'] !== undefined) config.viewsStateDir = s['views-dir'];
  if (s.key !== undefined) config.keyPair = loadKeyPair(s.key, CMD);
  if (s['allow-key'].length > 0) config.allowedPeerKeys = s['allow-key'].map((f) => loadPublicKey(f, CMD));
  if (s['tls-cert'] !== undefined && s['tls-key'] !== undefined) {
    config.tls = { cert: readFile(s['tls-cert'], '--tls-cert'), key: readFile(s['tls-key'], '--tls-key') };
    if (s['tls-ca'] !== undefined) config.tls.ca = readFile(s['tls-ca'], '--tls-ca');
  }
  const budget: BudgetOptions = {};
  for (const k of BUDGET_KEYS) if (s[k] !== undefined) budget[BUDGET_SETTINGS[k]] = s[k];
  if (Object.keys(budget).length > 0) config.budget = budget;
  const iocom: NonNullable<RelayConfig['iocom']> = {};
  if (s['link-max-queued-bytes'] !== undefined) iocom.maxQueuedBytes = s['link-max-queued-bytes'];
  if (s['link-max-transactions'] !== undefined) iocom.maxTransactions = s['link-max-transactions'];
  if (s['handshake-timeout-ms'] !== undefined) iocom.authTimeoutMs = s['handshake-timeout-ms'];
  if (s['pre-auth-buffer-bytes'] !== undefined) iocom.preAuthBufferBytes = s['pre-auth-buffer-bytes'];
  if (Object.keys(iocom).length > 0) config.iocom = iocom;
  if (s['backoff-min-ms'] !== undefined || s['backoff-max-ms'] !== undefined) {
    config.backoff = {};
    if (s['backoff-min-ms'] !== undefined) config.backoff.minMs = s['backoff-min-ms'];
    if (s['backoff-max-ms'] !== undefined) config.backoff.maxMs = s['backoff-max-ms'];
  }
  return config;
}

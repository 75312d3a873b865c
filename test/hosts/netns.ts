/**
 * Linux network namespaces for test hosts, through `ip` (iproute2). Every
 * namespace this module makes is named `dmh-<pid>-<tag>-<host>`, so a run
 * owns exactly the names with its prefix, and a later run can recognise (by
 * the dead pid) and sweep what a crashed run left. Veth pairs are created
 * directly between two of our namespaces (`ip -n A link add ... netns B`):
 * nothing is ever created, addressed or routed in the root namespace, and
 * deleting a namespace deletes its veth ends.
 */
import { execFile, execFileSync } from 'node:child_process';

/** Every namespace we make starts with this. */
export const NETNS_ROOT = 'dmh-';
/** Safety net for one `ip` command. */
const IP_TIMEOUT_MS = 10_000;

/** A failed `ip` command; `code` is stable. */
export class NetnsError extends Error {
  readonly code = 'NETNS_COMMAND_FAILED';
  constructor(args: readonly string[], detail: string) {
    super(`ip ${args.join(' ')}: ${detail}`);
    this.name = 'NetnsError';
  }
}

/** Run `ip ARGS`; resolves with stdout, rejects with NetnsError. */
export function ip(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: IP_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new NetnsError(args, (stderr || err.message).trim()));
      else resolve(stdout);
    });
  });
}

/** Synchronous `ip ARGS` for exit and signal handlers; never throws. */
export function ipSync(args: readonly string[]): string {
  try {
    return execFileSync('ip', args, { timeout: IP_TIMEOUT_MS, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

/**
 * Why namespaces cannot be used here, or null when they can: needs Linux,
 * root, iproute2, and a kernel that lets us create a namespace (checked by
 * making and deleting one).
 */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'network namespaces need root (run as root, e.g. in CI)';
  const probe = `${NETNS_ROOT}${process.pid}-probe`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { timeout: IP_TIMEOUT_MS, stdio: 'ignore' });
  } catch (err) {
    return `cannot create a network namespace (ip netns add failed: ${(err as Error).message.split('\n')[0]})`;
  }
  ipSync(['netns', 'del', probe]);
  return null;
}

/** Names of all namespaces on the machine. */
export function listNamespaces(): string[] {
  return ipSync(['netns', 'list'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

/** Pids of the processes in a namespace. */
export function pidsIn(ns: string): number[] {
  return ipSync(['netns', 'pids', ns])
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Delete namespaces (and SIGKILL the processes inside them) that match
 * `keep(name) === false` among ours. Synchronous: safe in exit handlers.
 */
function removeNamespaces(names: readonly string[]): void {
  for (const ns of names) {
    for (const pid of pidsIn(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    ipSync(['netns', 'del', ns]);
  }
}

/** Remove every namespace of ours whose creating process (pid in the name) is gone. Returns their names. */
export function sweepStaleNamespaces(): string[] {
  const stale = listNamespaces().filter((n) => {
    if (!n.startsWith(NETNS_ROOT)) return false;
    const pid = Number(n.slice(NETNS_ROOT.length).split('-')[0]);
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid);
  });
  removeNamespaces(stale);
  return stale;
}

/** Remove every namespace whose name starts with `prefix` (which must be one of ours). */
export function removeNamespacesWithPrefix(prefix: string): void {
  if (!prefix.startsWith(NETNS_ROOT) || prefix.length <= NETNS_ROOT.length) throw new Error(`refusing to remove namespaces with prefix ${prefix}`);
  removeNamespaces(listNamespaces().filter((n) => n.startsWith(prefix)));
}

/** A fresh run prefix `dmh-<pid>-<tag>-`. */
export function runPrefix(tag: string): string {
  const rand = Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0');
  return `${NETNS_ROOT}${process.pid}-${tag}${rand}-`;
}

/**
 * Create a namespace with its loopback up and `ignore_routes_with_linkdown`
 * set, so a connect over a cut link fails at once instead of waiting out SYN
 * retries.
 */
export async function addNamespace(ns: string): Promise<void> {
  await ip(['netns', 'add', ns]);
  await ip(['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
  await ip(['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.conf.all.ignore_routes_with_linkdown=1']).catch(() => undefined);
}

/** A veth pair between two of our namespaces, both ends named `ifname`, addressed and up. */
export async function addVeth(nsA: string, addrA: string, nsB: string, addrB: string, ifname: string, prefix: number): Promise<void> {
  await ip(['-n', nsA, 'link', 'add', 'name', ifname, 'type', 'veth', 'peer', 'name', ifname, 'netns', nsB]);
  await ip(['-n', nsA, 'addr', 'add', `${addrA}/${prefix}`, 'dev', ifname]);
  await ip(['-n', nsB, 'addr', 'add', `${addrB}/${prefix}`, 'dev', ifname]);
  await ip(['-n', nsA, 'link', 'set', 'dev', ifname, 'up']);
  await ip(['-n', nsB, 'link', 'set', 'dev', ifname, 'up']);
}

/** Set one end of a link down or up (a veth's peer loses carrier too). */
export async function setLink(ns: string, ifname: string, up: boolean): Promise<void> {
  await ip(['-n', ns, 'link', 'set', 'dev', ifname, up ? 'up' : 'down']);
}

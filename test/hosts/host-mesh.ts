/**
 * The test-host harness: a topology built as Linux network namespaces joined
 * by veth pairs, one real `dmsg relay` per namespace, faults applied while
 * traffic flows, and a measurement of each fault (convergence time, span
 * messages, span events, traffic) from the relays' own JSON logs and
 * /stats.json.
 *
 * Safety: every namespace is named with a per-run prefix (see netns.ts);
 * close() kills every process and deletes every namespace of the run, and so
 * do the exit and SIGINT/SIGTERM handlers; start() first sweeps namespaces
 * left by crashed runs. Addresses are only ever added inside our namespaces
 * (10.99.0.0/16, /30 per link); nothing is routed: each relay talks only to
 * its direct neighbours over the shared link. Test clients reach a relay over
 * a Unix socket in a private temp directory (not network traffic).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Router } from '../../src/span/router.ts';
import { connectUnix } from '../../src/transport/index.ts';
import { DMSG_PEER } from '../../src/wire/constants.ts';
import { addNamespace, addVeth, removeNamespacesWithPrefix, runPrefix, setLink, sweepStaleNamespaces } from './netns.ts';
import { RelayProcess, StatsAgent, type HostProgram, type LogEvent } from './relay-host.ts';
import { expectedSpans, planLinks, type LinkPlan, type Topology } from './topology.ts';

export interface HostMeshOptions {
  topology: Topology;
  /** A few letters naming the run in namespace names. */
  tag: string;
  /** Service name every host advertises (instance: the host's name). @default 'svc' */
  service?: string;
  /** Relay port on every link address. @default 7000 */
  port?: number;
  /** Metrics port on each namespace's loopback. @default 7100 */
  metricsPort?: number;
  /** --backoff-min-ms / --backoff-max-ms of every relay. @default 50 / 1000 */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Safety net of every wait. @default 60000 */
  safetyMs?: number;
  /** Stats polls 500 ms apart with no new span message, to call the mesh quiet. @default 3 */
  quietPolls?: number;
  /** Write one line per step here. @default none */
  progress?: (line: string) => void;
  /** What every host runs instead of `dmsg relay` (same flags); a function gets the host and its run number (0 first, +1 per restart). @default dmsg relay */
  program?: HostProgram | ((host: string, run: number) => HostProgram);
  /** More flags for a host's relay (e.g. `--lockspace NAME`). @default none */
  extraArgs?: (host: string) => readonly string[];
}

/** The kinds of event a scenario measures ('move': a service stopped on one host and started on another). */
export type EventKind = 'start' | 'cut' | 'restore' | 'kill' | 'restart' | 'freeze' | 'thaw' | 'partition' | 'heal' | 'move';

/** What else an event measures and waits for (HostMesh.event). */
export interface EventOptions {
  /** The service whose span events and convergence are measured. @default the mesh's service */
  readonly service?: string;
  /** Differences from the span tables the event must reach (besides the mesh's own); empty when reached. @default none */
  readonly settled?: () => string[];
}

/** The measurement of one event. */
export interface EventRecord {
  readonly kind: EventKind;
  readonly label: string;
  /** From the fault to the last span event (up/down/changed) at any relay, ms. */
  readonly convergenceMs: number;
  /** LNK_SPAN CREATEs and DELETEs sent by all relays for this event (those to the local test clients included). */
  readonly spanMessages: number;
  readonly spanEvents: { up: number; down: number; changed: number };
  /** span down events at hosts live before and after the event, for instances they reached before and after it (the mesh's own service only; 0 for another). */
  readonly downsAtReachable: number;
  /** Those downs as `host: instance (ms after the fault)`. */
  readonly downsAtReachableDetail: readonly string[];
  /** Hosts taking part (running, not frozen) when converged. */
  readonly liveHosts: number;
}

interface Host {
  readonly name: string;
  readonly ns: string;
  readonly args: string[];
  readonly agent: StatsAgent;
  /** Every process this host ran, the current one last. */
  readonly runs: RelayProcess[];
  killed: boolean;
  frozen: boolean;
  /** instance -> span dist of the mesh's service, from the current run's log. */
  spans: Map<string, number>;
  /** service -> instance -> span dist of every other service, from the current run's log. */
  others: Map<string, Map<string, number>>;
  client: Router | null;
  readonly sock: string;
}

const live = new Set<HostMesh>();
let handlersInstalled = false;
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('exit', () => { for (const m of live) m.destroySync(); });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const m of live) m.destroySync();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class HostMesh {
  readonly topology: Topology;
  readonly links: readonly LinkPlan[];
  readonly prefix: string;
  readonly records: EventRecord[] = [];
  readonly service: string;
  readonly #o: Required<Omit<HostMeshOptions, 'topology' | 'progress' | 'service' | 'program' | 'extraArgs'>> & { progress: (l: string) => void };
  readonly #program: HostProgram | ((host: string, run: number) => HostProgram) | undefined;
  readonly #extraArgs: (host: string) => readonly string[];
  readonly #hosts = new Map<string, Host>();
  readonly #cut = new Set<number>();
  readonly #dir: string;
  #closed = false;
  #changeWaiters = new Set<() => void>();

  private constructor(opts: HostMeshOptions) {
    this.topology = opts.topology;
    this.links = planLinks(opts.topology);
    this.service = opts.service ?? 'svc';
    this.prefix = runPrefix(opts.tag);
    this.#o = {
      tag: opts.tag,
      port: opts.port ?? 7000,
      metricsPort: opts.metricsPort ?? 7100,
      backoffMinMs: opts.backoffMinMs ?? 50,
      backoffMaxMs: opts.backoffMaxMs ?? 1000,
      safetyMs: opts.safetyMs ?? 60_000,
      quietPolls: opts.quietPolls ?? 3,
      progress: opts.progress ?? (() => undefined),
    };
    this.#program = opts.program;
    this.#extraArgs = opts.extraArgs ?? (() => []);
    this.#dir = mkdtempSync(join(tmpdir(), 'dmsg-hosts-'));
  }

  /** A private temp directory of this run (deleted by close()). */
  get dir(): string {
    return this.#dir;
  }

  /** Build the namespaces and links, start every relay, wait until the spans have converged (recorded as 'start'). */
  static async start(opts: HostMeshOptions): Promise<HostMesh> {
    installHandlers();
    const swept = sweepStaleNamespaces();
    const mesh = new HostMesh(opts);
    live.add(mesh);
    if (swept.length > 0) mesh.#o.progress(`swept ${swept.length} stale namespaces: ${swept.join(' ')}`);
    try {
      await mesh.#build();
      await mesh.event('start', `start ${mesh.topology.hosts.length} relays`, async () => {
        for (const h of mesh.#hosts.values()) mesh.#spawn(h);
      });
    } catch (err) {
      await mesh.close();
      throw err;
    }
    return mesh;
  }

  async #build(): Promise<void> {
    const t = this.topology;
    for (const name of t.hosts) {
      const ns = `${this.prefix}${name}`;
      await addNamespace(ns);
      const sock = join(this.#dir, `${name}.sock`);
      const args = ['--name', name, '--log', 'json', '--metrics', `127.0.0.1:${this.#o.metricsPort}`, '--advertise', `${this.service}/${name}`,
        '--backoff-min-ms', String(this.#o.backoffMinMs), '--backoff-max-ms', String(this.#o.backoffMaxMs), '--listen', `unix:${sock}`, ...this.#extraArgs(name)];
      this.#hosts.set(name, { name, ns, args, agent: new StatsAgent(ns), runs: [], killed: false, frozen: false, spans: new Map(), others: new Map(), client: null, sock });
    }
    for (const l of this.links) {
      const a = this.#host(l.a);
      const b = this.#host(l.b);
      await addVeth(a.ns, l.addrA, b.ns, l.addrB, l.ifname, l.prefix);
      a.args.push('--listen', `${l.addrA}:${this.#o.port}`, '--connect', `${l.addrB}:${this.#o.port}`);
      b.args.push('--listen', `${l.addrB}:${this.#o.port}`);
    }
    this.#o.progress(`built ${t.hosts.length} namespaces ${this.prefix}* and ${this.links.length} veth links`);
  }

  #host(name: string): Host {
    const h = this.#hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  #spawn(h: Host): RelayProcess {
    const program = typeof this.#program === 'function' ? this.#program(h.name, h.runs.length) : this.#program;
    const p = new RelayProcess(h.ns, h.args, program);
    h.runs.push(p);
    h.spans = new Map();
    h.others = new Map();
    p.onEvent((e) => {
      if (h.runs.at(-1) !== p) return;
      const inst = typeof e.fields['instance'] === 'string' ? e.fields['instance'] : undefined;
      const service = e.fields['service'];
      if (typeof service !== 'string' || inst === undefined) return;
      let table = h.spans;
      if (service !== this.service) {
        table = h.others.get(service) ?? new Map<string, number>();
        h.others.set(service, table);
      }
      if (e.event === 'span.up' || e.event === 'span.changed') table.set(inst, Number(e.fields['dist']));
      else if (e.event === 'span.down') table.delete(inst);
      else return;
      for (const w of [...this.#changeWaiters]) w();
    });
    void p.exited.then(() => { for (const w of [...this.#changeWaiters]) w(); });
    return p;
  }

  /** Hosts taking part now: relay running (as wanted) and not frozen. */
  liveHosts(): Set<string> {
    return new Set([...this.#hosts.values()].filter((h) => !h.killed && !h.frozen).map((h) => h.name));
  }

  /** Link indexes currently cut. */
  cutLinks(): ReadonlySet<number> {
    return this.#cut;
  }

  /** The span table (instance -> dist) of a host's current relay, from its log. */
  spanTable(host: string): ReadonlyMap<string, number> {
    return this.#host(host).spans;
  }

  /** The span table (instance -> dist) of another service at a host's current relay, from its log. */
  serviceTable(host: string, service: string): ReadonlyMap<string, number> {
    const h = this.#host(host);
    return service === this.service ? h.spans : h.others.get(service) ?? new Map<string, number>();
  }

  /** Hosts whose span table differs from the expected one, with the difference. */
  mismatches(): string[] {
    const exp = expectedSpans(this.topology, this.#cut, this.liveHosts());
    const out: string[] = [];
    for (const [name, want] of exp) {
      const h = this.#host(name);
      const have = h.spans;
      const p = h.runs.at(-1);
      if (!p || !p.running) { out.push(`${name}: relay not running`); continue; }
      const diffs: string[] = [];
      for (const [inst, d] of want) if (have.get(inst) !== d) diffs.push(`${inst} want ${d} have ${have.get(inst) ?? '-'}`);
      for (const [inst, d] of have) if (!want.has(inst)) diffs.push(`${inst} want - have ${d}`);
      if (diffs.length > 0) out.push(`${name}: ${diffs.join(', ')}`);
    }
    return out;
  }

  /**
   * Resolves when every live host's span table is as expected (and `extra`,
   * differences of other tables, returns none); rejects after the safety net
   * with the differences.
   */
  async waitConverged(what: string, extra: () => string[] = () => []): Promise<void> {
    const diffs = (): string[] => [...this.mismatches(), ...extra()];
    if (diffs().length === 0) return;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => { clearTimeout(timer); this.#changeWaiters.delete(check); };
      const check = (): void => {
        if (diffs().length === 0) { done(); resolve(); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`${this.topology.name} ${what}: spans not converged within ${this.#o.safetyMs} ms:\n  ${diffs().join('\n  ')}`)); }, this.#o.safetyMs);
      this.#changeWaiters.add(check);
    });
  }

  /** spanMessagesSent of every live host's current relay (null where /stats.json did not answer). */
  async #spanCounters(): Promise<Map<string, { run: RelayProcess; sent: number } | null>> {
    const out = new Map<string, { run: RelayProcess; sent: number } | null>();
    await Promise.all([...this.liveHosts()].map(async (name) => {
      const h = this.#host(name);
      const run = h.runs.at(-1)!;
      const s = (await h.agent.getJson(`http://127.0.0.1:${this.#o.metricsPort}/stats.json`)) as { totals?: { spanMessagesSent?: number } } | null;
      const sent = s?.totals?.spanMessagesSent;
      out.set(name, typeof sent === 'number' ? { run, sent } : null);
    }));
    return out;
  }

  /** Poll until converged and no relay sent a span message for quietPolls polls in a row; returns the last counters. */
  async #quiet(what: string): Promise<Map<string, { run: RelayProcess; sent: number } | null>> {
    const deadline = Date.now() + this.#o.safetyMs;
    let last = '';
    let same = 0;
    while (Date.now() < deadline) {
      const c = await this.#spanCounters();
      const key = JSON.stringify([...c].map(([n, v]) => [n, v?.sent ?? null]).sort());
      const ok = [...c.values()].every((v) => v !== null) && this.mismatches().length === 0;
      same = ok && key === last ? same + 1 : 0;
      last = key;
      if (same >= this.#o.quietPolls) return c;
      await sleep(500);
    }
    throw new Error(`${this.topology.name} ${what}: span messages did not stop within ${this.#o.safetyMs} ms; last counters ${last}; mismatches: ${this.mismatches().join('; ') || 'none'}`);
  }

  /**
   * Apply a fault and measure it: wait for the expected span tables, then for
   * quiet, and record convergence time, span messages and span events.
   * With `opts.service`, the convergence time and span events are those of
   * that service (default: the mesh's own) and `opts.settled` (differences
   * from the tables it should reach, empty when reached) is waited for too.
   */
  async event(kind: EventKind, label: string, fault: () => Promise<void>, opts: EventOptions = {}): Promise<EventRecord> {
    const service = opts.service ?? this.service;
    const before = kind === 'start' ? new Map() : await this.#spanCounters();
    const liveBefore = this.liveHosts();
    const tablesBefore = new Map([...this.#hosts.values()].filter((h) => liveBefore.has(h.name)).map((h) => [h.name, new Set(h.spans.keys())]));
    const t0 = Date.now();
    this.#o.progress(`${this.topology.name}: ${label}`);
    await fault();
    await this.waitConverged(label, opts.settled);
    const after = await this.#quiet(label);
    let spanMessages = 0;
    for (const [name, a] of after) {
      if (!a) continue;
      const b = before.get(name);
      spanMessages += b && b.run === a.run ? a.sent - b.sent : a.sent;
    }
    const exp = expectedSpans(this.topology, this.#cut, this.liveHosts());
    const ev = { up: 0, down: 0, changed: 0 };
    let lastT = t0;
    let downsAtReachable = 0;
    const downDetail: string[] = [];
    for (const h of this.#hosts.values()) {
      const stillLive = exp.has(h.name);
      for (const run of h.runs) {
        for (const e of run.log) {
          if (e.t < t0 || !e.event.startsWith('span.') || e.fields['service'] !== service) continue;
          const type = e.event.slice(5);
          if (type !== 'up' && type !== 'down' && type !== 'changed') continue;
          ev[type]++;
          lastT = Math.max(lastT, e.t);
          const inst = String(e.fields['instance']);
          if (type === 'down' && service === this.service && run === h.runs.at(-1) && stillLive && tablesBefore.get(h.name)?.has(inst) && exp.get(h.name)!.has(inst)) {
            downsAtReachable++;
            downDetail.push(`${h.name}: ${inst} (+${e.t - t0} ms)`);
          }
        }
      }
    }
    const rec: EventRecord = { kind, label, convergenceMs: lastT - t0, spanMessages, spanEvents: ev, downsAtReachable, downsAtReachableDetail: downDetail, liveHosts: exp.size };
    this.records.push(rec);
    this.#o.progress(`  converged in ${rec.convergenceMs} ms, ${spanMessages} span messages, events ${JSON.stringify(ev)}, downs at reachable hosts ${downsAtReachable}${downDetail.length ? ` (${downDetail.join(', ')})` : ''}`);
    return rec;
  }

  /** The link joining two hosts. */
  link(a: string, b: string): LinkPlan {
    const l = this.links.find((x) => (x.a === a && x.b === b) || (x.a === b && x.b === a));
    if (!l) throw new Error(`no link ${a}-${b}`);
    return l;
  }

  /** Set links down (on their first host's side; the veth peer loses carrier). */
  async cut(indexes: readonly number[]): Promise<void> {
    for (const k of indexes) {
      const l = this.links[k]!;
      await setLink(this.#host(l.a).ns, l.ifname, false);
      this.#cut.add(k);
    }
  }

  /** Set links up again. */
  async restore(indexes: readonly number[]): Promise<void> {
    for (const k of indexes) {
      const l = this.links[k]!;
      await setLink(this.#host(l.a).ns, l.ifname, true);
      this.#cut.delete(k);
    }
  }

  /** SIGKILL a host's relay and wait for it to die. */
  async kill(host: string): Promise<void> {
    const h = this.#host(host);
    const p = h.runs.at(-1)!;
    h.killed = true;
    h.frozen = false;
    p.signal('SIGKILL');
    await p.exited;
  }

  /** Start a killed host's relay again (same arguments, new process) and re-attach its test client. */
  async restart(host: string): Promise<void> {
    const h = this.#host(host);
    if (!h.killed) throw new Error(`${host} is running`);
    h.killed = false;
    const p = this.#spawn(h);
    await p.waitFor((e) => e.event === 'listening' && String(e.fields['address']).startsWith('unix:'), this.#o.safetyMs, `${host} listens again`);
    if (h.client) await this.client(host);
  }

  /** SIGSTOP a host's relay: its peers see silence, not a reset. */
  async freeze(host: string): Promise<void> {
    const h = this.#host(host);
    h.frozen = true;
    h.runs.at(-1)!.signal('SIGSTOP');
  }

  /** SIGCONT a frozen relay. */
  async thaw(host: string): Promise<void> {
    const h = this.#host(host);
    h.runs.at(-1)!.signal('SIGCONT');
    h.frozen = false;
  }

  /**
   * A client Router in this process linked to a host's relay over its Unix
   * socket: made once, re-attached here and after a restart when its link was lost.
   */
  async client(host: string): Promise<Router> {
    const h = this.#host(host);
    if (!h.client) h.client = new Router({ name: `client-${host}`, peerType: DMSG_PEER.CLIENT });
    // A link lost to a kill or to keepalive during a freeze is replaced.
    if (h.client.stats().links === 0 && !h.killed && !h.frozen) h.client.attach(await connectUnix({ path: h.sock }));
    return h.client;
  }

  /** Link a Router of this process to a host's relay over its Unix socket (as a program on that host would). */
  async attachRouter(host: string, router: Router): Promise<void> {
    router.attach(await connectUnix({ path: this.#host(host).sock }));
  }

  /** /stats.json of a host's relay (null if it did not answer within 2 s). */
  stats(host: string): Promise<unknown> {
    return this.#host(host).agent.getJson(`http://127.0.0.1:${this.#o.metricsPort}/stats.json`);
  }

  /** The process runs of a host, the current one last (their logs and records). */
  runs(host: string): readonly RelayProcess[] {
    return this.#host(host).runs;
  }

  /** Each relay's process runs and their logs (for reports and failure messages). */
  logs(host: string): readonly LogEvent[] {
    return this.#host(host).runs.flatMap((r) => r.log);
  }

  /** Stop clients, kill every relay and agent, delete the namespaces and the socket directory. */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const h of this.#hosts.values()) if (h.client) await h.client.close().catch(() => undefined);
    const exits: Promise<unknown>[] = [];
    for (const h of this.#hosts.values()) {
      for (const p of h.runs) {
        if (p.running) { p.signal('SIGKILL'); exits.push(p.exited); }
      }
      h.agent.close();
    }
    await Promise.race([Promise.all(exits), sleep(10_000)]);
    this.destroySync();
  }

  /** Synchronous last-resort cleanup (exit and signal handlers): SIGKILL what runs, delete our namespaces and temp dir. */
  destroySync(): void {
    if (this.#closed) return;
    this.#closed = true;
    live.delete(this);
    for (const h of this.#hosts.values()) {
      for (const p of h.runs) if (p.running) { try { process.kill(p.child.pid!, 'SIGKILL'); } catch { /* gone */ } }
      if (h.agent.child.exitCode === null) { try { h.agent.child.kill('SIGKILL'); } catch { /* gone */ } }
    }
    removeNamespacesWithPrefix(this.prefix);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Structured logs: the line rule table, text and JSON records, levels, and `dmsg relay --log json`. */
import { describe, expect, it } from 'vitest';
import { classifyLine, DEFAULT_MAX_LOG_BACKLOG_BYTES, EventLog, isRoutine } from '../../src/cli/ops/event-log.ts';
import { lines, runCli, startCli } from '../cli/io.ts';

describe('classifyLine', () => {
  it.each([
    ['link c3 up', 'link.up', 'info', { conn: 'c3' }],
    ['link c3 down (B): peer-closed', 'link.down', 'info', { conn: 'c3', peer: 'B', reason: 'peer-closed' }],
    ['link c3 down (B): header CRC mismatch: header says 0x1', 'link.down', 'warn', { conn: 'c3', peer: 'B' }],
    ['link c3: protocol error BAD_HDR_CRC: header CRC mismatch', 'protocol.error', 'warn', { conn: 'c3', code: 'BAD_HDR_CRC' }],
    ['link c2: keepalive lost: nothing received for 10000 ms', 'keepalive.lost', 'warn', { conn: 'c2' }],
    ['span up echo/a1 dist=0 via=c1', 'span.up', 'info', { service: 'echo', instance: 'a1', dist: 0, via: 'c1' }],
    ['span down echo/a1', 'span.down', 'info', { service: 'echo', instance: 'a1' }],
    ['dial 127.0.0.1:9 failed (3 in a row): connect ECONNREFUSED; retry in 250 ms', 'dial.failed', 'warn', { target: '127.0.0.1:9', failures: 3, retryMs: 250 }],
    ['accepted from 127.0.0.1:5555: link c1', 'link.attach', 'info', { what: 'accepted', from: '127.0.0.1:5555', conn: 'c1' }],
    ['connected to 127.0.0.1:5700 (connection 2): link c4', 'link.attach', 'info', { what: 'connected', from: '127.0.0.1:5700', connection: 2, conn: 'c4' }],
    ['listening 127.0.0.1:5700', 'listening', 'info', { address: '127.0.0.1:5700' }],
    ['something new', 'log', 'info', {}],
  ])('%s', (line, event, level, fields) => {
    expect(classifyLine(line)).toEqual({ event, level, fields });
  });
});

describe('EventLog', () => {
  const at = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
  it('writes one JSON object per line with time, level, node, event, msg and fields', () => {
    const out: string[] = [];
    const log = new EventLog({ node: 'edge-1', format: 'json', write: (t) => out.push(t), now: () => at });
    log.line('[router-a] link c1 up');
    log.line('dialing 10.0.0.1:5700');
    log.event('warn', 'custom', 'hello', { n: 1, time: 'not overwritten' });
    expect(out.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    const recs = out.map((l) => JSON.parse(l));
    expect(recs[0]).toEqual({ time: '2026-01-02T03:04:05.006Z', level: 'info', node: 'router-a', event: 'link.up', msg: 'link c1 up', conn: 'c1' });
    expect(recs[1]).toMatchObject({ node: 'edge-1', event: 'dial', target: '10.0.0.1:5700' });
    expect(recs[2]).toEqual({ time: '2026-01-02T03:04:05.006Z', level: 'warn', node: 'edge-1', event: 'custom', msg: 'hello', n: 1 });
  });

  it('writes human lines by default, with the node on every line, and drops lines below the level', () => {
    const out: string[] = [];
    const log = new EventLog({ node: 'n1', level: 'warn', write: (t) => out.push(t), now: () => at });
    log.line('[r] link c1 up');
    log.line('[r] link c1 down (B): bad magic 0x41414141');
    log.event('error', 'x', 'broken');
    expect(out).toEqual(['2026-01-02T03:04:05.006Z warn  [r] link c1 down (B): bad magic 0x41414141\n', '2026-01-02T03:04:05.006Z error [n1] broken\n']);
    expect(log.enabled('info')).toBe(false);
    expect(() => new EventLog({ node: 'n', level: 'loud' as never, write: () => {} })).toThrow(/log level/);
  });
});

describe('dmsg relay --log json --log-level', () => {
  it('every stderr line is a JSON record naming the node; bad values are usage errors', async () => {
    const stop = new AbortController();
    const a = startCli(['relay', '--name', 'J', '--listen', '127.0.0.1:0', '--advertise', 'echo', '--log', 'json'], stop.signal);
    await a.waitForStdout(/^listening (\S+)$/);
    await a.waitForStderr(/"event":"span.advertise"/);
    stop.abort('SIGTERM');
    const r = await a.done;
    expect(r.code).toBe(0);
    const recs = lines(r.stderr).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs.length).toBeGreaterThanOrEqual(4);
    for (const rec of recs) {
      expect(rec['node']).toBe('J');
      expect(rec['time']).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(['debug', 'info', 'warn', 'error']).toContain(rec['level']);
      expect(typeof rec['event']).toBe('string');
    }
    expect(recs.map((x) => x['event'])).toEqual(expect.arrayContaining(['listening', 'span.advertise', 'shutdown', 'stopped']));
    expect(recs.find((x) => x['event'] === 'span.advertise')).toMatchObject({ service: 'echo', instance: 'J' });

    const quiet = new AbortController();
    const q = startCli(['relay', '--name', 'Q', '--listen', '127.0.0.1:0', '--log-level', 'warn'], quiet.signal);
    await q.waitForStdout(/^listening /);
    quiet.abort('SIGTERM');
    expect((await q.done).stderr).toBe('');

    expect((await runCli(['relay', '--listen', '127.0.0.1:0', '--log', 'xml'])).code).toBe(2);
    expect((await runCli(['relay', '--listen', '127.0.0.1:0', '--log-level', 'loud'])).stderr).toContain('--log-level must be one of');
    expect((await runCli(['relay', '--listen', '127.0.0.1:0', '--metrics', 'unix:/x'])).code).toBe(2);
  });
});

/**
 * The relay's stderr is an asynchronous pipe: a log reader slower than a
 * peer's span churn (8192 lines a round in attack 1d) queued megabytes in
 * the relay and delayed its `link shed` line by 20 s. The backlog is bounded.
 */
describe('EventLog: a slow log reader', () => {
  const at = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
  const MAX = 1000;
  function setup(): { out: Array<{ level: string; event: string; msg: string; dropped?: number }>; log: EventLog; set: (n: number) => void } {
    const out: Array<{ level: string; event: string; msg: string; dropped?: number }> = [];
    let backlog = 0;
    const log = new EventLog({ node: 'R', format: 'json', write: (t) => out.push(JSON.parse(t)), now: () => at, backlog: () => backlog, maxBacklogBytes: MAX });
    return { out, log, set: (n) => (backlog = n) };
  }

  it('routine lines (span events, unclassified lines) are dropped past the budget, the rest kept, and the count reported once the backlog is back under it', () => {
    const { out, log, set } = setup();
    log.line('[R] span up churn/i1 dist=0 via=c3');
    set(MAX + 1);
    for (let i = 0; i < 5; i++) log.line(`[R] span up churn/i${i} dist=0 via=c3`);
    log.line('[R] span lost churn/i1: down unless a path returns within 4000 ms');
    log.line('[R] span changed churn/i1 dist=0 via=c3 (a path returned)');
    log.line('[R] R/c2: link shed: the peer has not answered 61440 of our DELETEs and the transaction table is full; maxTransactions is 65536');
    log.line('[R] link c2 down (sink): R/c2: link shed: the peer has not answered 61440 of our DELETEs');
    log.line('[R] accepted from 127.0.0.1:5555: link c9');
    expect(out.map((r) => r.event)).toEqual(['span.up', 'link.error', 'link.down', 'link.attach']);
    expect(log.droppedTotal).toBe(7);
    set(MAX);
    log.line('[R] span down churn/i1');
    expect(out.slice(4)).toEqual([
      { time: '2026-01-02T03:04:05.006Z', level: 'warn', node: 'R', event: 'log.dropped', msg: '7 log lines dropped: the log is written faster than it is read', dropped: 7 },
      { time: '2026-01-02T03:04:05.006Z', level: 'info', node: 'R', event: 'span.down', msg: 'span down churn/i1', service: 'churn', instance: 'i1' },
    ]);
    log.line('[R] span down churn/i2');
    expect(out.length).toBe(7); // the summary once, not again
  });

  it(`past ${8} times the budget every line is dropped and counted`, () => {
    const { out, log, set } = setup();
    set(8 * MAX + 1);
    log.line('[R] link c2 down (sink): R/c2: link shed');
    log.event('error', 'custom', 'boom');
    log.line('[R] span up churn/i1 dist=0 via=c3');
    expect(out).toEqual([]);
    expect(log.droppedTotal).toBe(3);
    set(8 * MAX);
    log.line('[R] link c2 down (sink): R/c2: link shed');
    expect(out.map((r) => r.event)).toEqual(['link.down']); // still over the budget: no summary yet
    set(0);
    log.line('[R] link c3 up');
    expect(out.map((r) => [r.event, r.dropped])).toEqual([['link.down', undefined], ['log.dropped', 3], ['link.up', undefined]]);
  });

  it('without a backlog function nothing is dropped; the budget is validated', () => {
    const out: string[] = [];
    const log = new EventLog({ node: 'R', write: (t) => out.push(t) });
    for (let i = 0; i < 100; i++) log.line(`span up churn/i${i} dist=0 via=c3`);
    expect(out.length).toBe(100);
    expect(log.droppedTotal).toBe(0);
    expect(DEFAULT_MAX_LOG_BACKLOG_BYTES).toBe(256 * 1024);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new EventLog({ node: 'R', write: () => {}, maxBacklogBytes: bad })).toThrow(RangeError);
  });

  it.each([
    ['info', 'span.up', true],
    ['info', 'log', true],
    ['debug', 'span.withdraw', true],
    ['warn', 'log', false],
    ['info', 'link.down', false],
    ['info', 'link.attach', false],
    ['error', 'span.up', false],
  ] as const)('isRoutine(%s, %s) = %s', (level, event, routine) => {
    expect(isRoutine(level, event)).toBe(routine);
  });
});

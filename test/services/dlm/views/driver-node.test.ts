/**
 * Views through startDlmNode and `dmsg relay`: voters on every lockspace of a
 * node, the status in the LocksReport and `dmsg locks` text, the state files
 * of --views-dir, and the --voters / "voters" config plumbing.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../../src/cli/command.ts';
import { formatLocksReport } from '../../../../src/cli/commands/locks.ts';
import { mergeSettings, parseConfigObject, parseVoters, toRelayConfig, validateSettings } from '../../../../src/cli/relay-config.ts';
import { NO_VOTERS_STATE, startDlmNode, type DlmNode } from '../../../../src/services/dlm/index.ts';
import { nodeidOf } from '../../../../src/services/midcomms/index.ts';
import { ManualClock } from '../../../../src/util/clock.ts';
import { createMesh, nodeIdOf, turn, until, type Mesh } from '../../../helpers/mesh.ts';

let mesh: Mesh | null = null;
const nodes: DlmNode[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) n.close();
  await mesh?.close();
  mesh = null;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('startDlmNode with voters', () => {
  it('3 nodes: every lockspace runs views; the report and `dmsg locks` show the membership status; state files are written', async () => {
    mesh = createMesh(3, [
      [0, 1],
      [1, 2],
    ]);
    const clock = new ManualClock();
    const voters = mesh.routers.map((r) => nodeidOf(r.nodeId));
    const dir = mkdtempSync(join(tmpdir(), 'views-node-'));
    dirs.push(dir);
    for (const [i, r] of mesh.routers.entries()) {
      nodes.push(await startDlmNode(r, { lockspaces: ['a', 'b'], clock, voters, views: { lease: 300 }, ...(i === 0 ? { viewsStateDir: dir } : {}) }));
    }
    for (let t = 0; t < 3000 && !nodes.every((n) => ['a', 'b'].every((l) => n.memberships.get(l)!.viewsStats!.granting)); t += 10) {
      clock.advance(10);
      for (let i = 0; i < 4; i++) await turn();
    }
    const report = nodes[0]!.report('a');
    const ls = report.lockspaces[0]!;
    // View 1 is the first view on the mesh (view 0, the voters with unknown runs, never grants).
    expect(ls.state).toMatch(/(leader|member) of view 1 \(granting\)/);
    expect(ls.views).toMatchObject({ view: 1, granting: true });
    expect(ls.views!.leaseRemaining).toBeGreaterThan(0);
    expect(ls.views!.messagesIn).toBeGreaterThan(0);
    const text = formatLocksReport(report);
    expect(text).toMatch(/membership: (leader|member) of view 1 \(granting\)/);
    expect(text).toMatch(/views: term \d+ (leader|follower), view 1 \[[\d ]+\], granting \(\d+ ms left\); messages in \d+ out \d+ dropped 0/);
    expect(existsSync(join(dir, `views-a-${voters[0]}.json`)) && existsSync(join(dir, `views-b-${voters[0]}.json`))).toBe(true);
    const lk = await nodes[2]!.lockspace('b')!.lock('x', 'EX');
    await lk.unlock();
  });

  it('without voters the report says there is no split-brain protection; a node outside its voters fails to start', async () => {
    mesh = createMesh(1, []);
    const n = await startDlmNode(mesh.routers[0]!, { lockspaces: ['p'], clock: new ManualClock() });
    nodes.push(n);
    expect(n.report('p').lockspaces[0]!.state).toBe(NO_VOTERS_STATE);
    expect(n.report('p').lockspaces[0]!.views).toBeUndefined();
    expect(formatLocksReport(n.report('p'))).toContain(`membership: ${NO_VOTERS_STATE}`);
    await expect(startDlmNode(mesh.routers[0]!, { lockspaces: ['q'], voters: [1, 2, 3], clock: new ManualClock() })).rejects.toMatchObject({ code: 'VIEWS_BAD_OPTION' });
    await until(() => mesh!.routers[0]!.members('dlm:q').length === 0, 'q withdrawn');
  });
});

describe('dmsg relay --voters / --views-dir', () => {
  it('voters are DLM node ids or router UUIDs; the config key and the flag reach RelayConfig', () => {
    expect(parseVoters('1, 2,3')).toEqual([1, 2, 3]);
    expect(parseVoters(nodeIdOf(4))).toEqual([nodeidOf(nodeIdOf(4))]);
    for (const bad of ['', '1,,2', '0', 'x', '1,1', '4294967296']) expect(() => parseVoters(bad), bad).toThrow(UsageError);
    const file = parseConfigObject({ listen: ['127.0.0.1:0'], lockspaces: ['one'], voters: '7,8,9', 'views-dir': 'state' }, 'cfg', '/etc/dmsg');
    const cfg = toRelayConfig(mergeSettings(file, {}));
    expect(cfg.voters).toEqual([7, 8, 9]);
    expect(cfg.viewsStateDir).toBe('/etc/dmsg/state');
    expect(toRelayConfig(mergeSettings(file, { voters: '5' })).voters).toEqual([5]);
    expect(toRelayConfig(mergeSettings({ listen: ['127.0.0.1:0'] }, {})).voters).toBeUndefined();
    // --node-id fixes the router node id, hence the DLM node id --voters names.
    const withId = parseConfigObject({ listen: ['127.0.0.1:0'], 'node-id': nodeIdOf(9).toUpperCase() }, 'cfg', '/');
    expect(toRelayConfig(mergeSettings(withId, {})).nodeId).toBe(nodeIdOf(9));
    expect(() => validateSettings(mergeSettings({ listen: ['127.0.0.1:0'], 'node-id': 'n9' }, {}))).toThrow(/--node-id must be a UUID/);
  });

  it('--voters without --lockspace, --views-dir without --voters and bad ids are usage errors', () => {
    expect(() => validateSettings(mergeSettings({ listen: ['127.0.0.1:0'], voters: '1,2' }, {}))).toThrow(/--voters needs --lockspace/);
    expect(() => validateSettings(mergeSettings({ listen: ['127.0.0.1:0'], lockspaces: ['a'], 'views-dir': '/tmp' }, {}))).toThrow(/--views-dir needs --voters/);
    expect(() => validateSettings(mergeSettings({ listen: ['127.0.0.1:0'], lockspaces: ['a'], voters: 'a,b' }, {}))).toThrow(/--voters: "a" is neither/);
    expect(() => validateSettings(mergeSettings({ listen: ['127.0.0.1:0'], lockspaces: ['a'], voters: '1,2' }, {}))).not.toThrow();
  });
});

/**
 * Issue 7, attack 4 (first part): many connections, each announcing 1 MiB
 * of aux and sending all but the last byte, so the relay buffers a partial
 * message per connection. Before the fix: 600 connections took the relay
 * from 100 to 720 MB (still 733 MB after they closed); before
 * authentication, 300 took it from 83 to 411 MB. A daemon-wide budget for
 * partial-message bytes (and a small pre-auth buffer) must bound it.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DMSG } from '../../src/wire/constants.ts';
import { HostilePeer } from '../helpers/hostile-peer.ts';
import { HOSTILE_FULL, KEYS, MAX_LATENCY_MS, SAFETY_MS, finishAttack, onCleanup, since, size, startBystander, startHostileRelay, useHostileCleanup, type RelayProcess } from '../helpers/hostile-relay.ts';

useHostileCleanup();

const PARTIAL_BUDGET = 16 << 20;
const AUX = new Uint8Array(1 << 20).fill(0xa5);

/** `n` connections each left holding a 1 MiB message short of its last byte; returns the peers. */
async function partialMessages(relay: RelayProcess, n: number, deadline: number): Promise<HostilePeer[]> {
  const peers: HostilePeer[] = [];
  for (let i = 0; i < n && performance.now() < deadline; i++) {
    let peer: HostilePeer;
    try {
      peer = await HostilePeer.connect(relay.port, { read: 'discard', label: `partial${i}` });
    } catch {
      continue; // refused at the door: a budget on connections works too
    }
    peers.push(peer);
    const [head, aux] = peer.frameChunks({ cmd: DMSG.DBG_SHELL }, undefined, AUX);
    peer.write(head!);
    if (!peer.write(aux!.subarray(0, aux!.length - 1))) await peer.drained();
  }
  for (const p of peers) await p.drained();
  return peers;
}

/** Key files for a relay that requires LNK_AUTH: its own key, and the bystander's public key as the one allowed. */
function keyFiles(): { key: string; allow: string; bystander: { privateKey: KeyObject; publicKey: KeyObject } } {
  const dir = mkdtempSync(join(tmpdir(), 'dmsg-hostile-keys-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const relayKey = generateKeyPairSync('ed25519');
  const bystander = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'r.key'), relayKey.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
  writeFileSync(join(dir, 'bystander.key.pub'), bystander.publicKey.export({ format: 'pem', type: 'spki' }) as string);
  return { key: join(dir, 'r.key'), allow: join(dir, 'bystander.key.pub'), bystander };
}

async function attack(name: string, conns: number, auth: boolean): Promise<void> {
  const config: Record<string, unknown> = size({ [KEYS.partialBytes]: PARTIAL_BUDGET }, {});
  let keyPair: { privateKey: KeyObject; publicKey: KeyObject } | undefined;
  if (auth) {
    // The attackers hold no allowed key: everything they send comes before authentication.
    const k = keyFiles();
    config['key'] = k.key;
    config['allow-key'] = [k.allow];
    keyPair = k.bystander;
    if (!HOSTILE_FULL) {
      config[KEYS.preauthConnections] = 64;
      config[KEYS.preauthBufferBytes] = 64 << 10;
    }
  }
  const relay = await startHostileRelay({ config });
  const baselineRssMb = relay.sampleRss()!;
  const bystander = await startBystander(relay, keyPair ? { keyPair } : {});

  const t0 = performance.now();
  const peers = await partialMessages(relay, conns, t0 + SAFETY_MS);
  const sentMs = since(t0);
  // A measuring window for RSS while they hold their partial messages (the sampler also runs every 100 ms).
  await bystander.roundTrip();
  for (let i = 0; i < 10; i++) {
    relay.sampleRss();
    await new Promise((r) => setTimeout(r, 100));
  }
  const holdingRssMb = relay.rssMb;
  const closedByRelay = peers.filter((p) => p.isClosed).length;
  for (const p of peers) p.destroy();
  await Promise.all(peers.map((p) => p.closed));
  // And after they are gone: is the memory given back?
  await bystander.roundTrip();
  for (let i = 0; i < 10; i++) {
    relay.sampleRss();
    await new Promise((r) => setTimeout(r, 100));
  }
  const afterCloseRssMb = relay.rssMb;

  const effect = !relay.alive ? 'relay exited' : `${closedByRelay}/${peers.length} closed by the relay; RSS ${Math.round(baselineRssMb)} -> ${Math.round(holdingRssMb)} MB holding, ${Math.round(afterCloseRssMb)} MB after close`;
  const broken = await finishAttack({
    attack: name,
    relay,
    bystander,
    effect,
    timeToEffectMs: sentMs,
    baselineRssMb,
    maxLatencyMs: MAX_LATENCY_MS,
    rssLimitMb: baselineRssMb + size(100, 300),
    extra: { connections: peers.length, closedByRelay, sentMs, holdingRssMb: Math.round(holdingRssMb), afterCloseRssMb: Math.round(afterCloseRssMb) },
  });
  expect(broken, relay.log()).toEqual([]);
}

describe('hostile: connections holding 1 MiB partial messages', () => {
  it('an open relay bounds the bytes buffered for partial messages', async () => {
    await attack('4a partial 1 MiB messages (open relay)', size(128, 600), false);
  }, SAFETY_MS * 4);

  it('before authentication, the relay bounds them too', async () => {
    await attack('4a partial 1 MiB messages (before auth)', size(128, 300), true);
  }, SAFETY_MS * 4);
});

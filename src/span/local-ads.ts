/**
 * This router's own advertisements: the span fields of a local instance,
 * the in-process link a local open() goes through, and what ending one does.
 * (Router.advertise / serve / open use these; the table, relays and
 * withdrawal do the rest.)
 */
import { randomInt } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import type { OpenOptions } from '../iocom/iocom.ts';
import type { Transaction } from '../iocom/transaction.ts';
import type { Dispatch } from './dispatch.ts';
import { LocalLink } from './local-link.ts';
import type { RouterCore } from './router-core.ts';
import { SERVICE_PEER_TYPE, type AdvertiseOptions, type LocalAd } from './router-types.ts';
import { serviceClusterId } from './service-id.ts';
import type { SpanFields } from './span-table.ts';
import type { Withdrawal } from './withdrawal.ts';

/** The LNK_SPAN fields of a new local advertisement of `opts.service` as `instance`. */
export function localSpanFields(core: RouterCore, opts: AdvertiseOptions, instance: string): SpanFields {
  return {
    peerType: opts.peerType ?? SERVICE_PEER_TYPE,
    pfsType: 0,
    clusterId: serviceClusterId(opts.service),
    nodeId: opts.instanceId ?? uuidv5(`${opts.service}\0${instance}`, core.nodeId),
    clusterLabel: opts.service,
    nodeLabel: instance,
    dist: 0,
    rnss: 0,
    // A fresh epoch per advertisement: its withdrawal refuses this one only.
    epoch: randomInt(1, 0xffffffff),
    hops: [0],
    origin: { name: core.name, incarnation: core.incarnation },
  };
}

/** Open on a local instance: through the in-process link, made on first use. */
export function openLocal(core: RouterCore, dispatch: Dispatch, local: LocalAd, cmd: number, opts: Omit<OpenOptions, 'parent'>): Transaction {
  if (local.local === null) {
    const link = new LocalLink(`${core.name}/${local.fields.clusterLabel}/${local.fields.nodeLabel}`);
    link.server.onPeerOpen = (tx) => dispatch.toService(local, tx, link.server);
    link.client.onPeerOpen = (tx) => dispatch.onStacked(tx, link.client);
    local.local = link;
  }
  const tx = local.local.client.open(cmd, opts);
  dispatch.opened.add(tx);
  core.hosts.set(tx, local.local.client);
  return tx;
}

/** A local advertisement ends: withdraw it everywhere, end its local transactions. */
export function endLocal(core: RouterCore, withdrawal: Withdrawal, local: LocalAd): void {
  const link = core.table.link(local.linkId);
  local.subject.complete();
  local.local?.destroy(`${local.fields.clusterLabel}/${local.fields.nodeLabel} was withdrawn`);
  if (link) withdrawal.withdraw(link.nodeKey, local.fields.epoch!);
}

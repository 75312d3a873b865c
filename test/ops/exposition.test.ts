/** The hand-written Prometheus text: escaping, merging, values, and names it refuses. */
import { describe, expect, it } from 'vitest';
import { escapeLabelValue, formatValue, renderExposition } from '../../src/cli/ops/exposition.ts';
import { statsToFamilies, type RelayStats } from '../../src/cli/ops/relay-observer.ts';
import { parseExposition, sum } from './helpers.ts';

describe('renderExposition', () => {
  it('writes HELP, TYPE and samples, escaping label values and help text', () => {
    const text = renderExposition([
      { name: 'x_total', help: 'a\\b\nc', type: 'counter', samples: [{ labels: { peer: 'q"u\\o\nte' }, value: 3 }, { value: 1.5 }] },
    ]);
    expect(text).toBe('# HELP x_total a\\\\b\\nc\n# TYPE x_total counter\nx_total{peer="q\\"u\\\\o\\nte"} 3\nx_total 1.5\n');
    const p = parseExposition(text);
    expect(p.samples[0]!.labels['peer']).toBe('q"u\\o\nte');
  });

  it('merges families of one name, refuses type clashes and bad names', () => {
    const text = renderExposition([
      { name: 'g', help: 'h', type: 'gauge', samples: [{ labels: { a: '1' }, value: 1 }] },
      { name: 'g', help: 'h', type: 'gauge', samples: [{ labels: { a: '2' }, value: 2 }] },
    ]);
    expect(sum(parseExposition(text), 'g')).toBe(3);
    expect(text.match(/# TYPE g/g)).toHaveLength(1);
    expect(() => renderExposition([{ name: 'g', help: '', type: 'gauge', samples: [] }, { name: 'g', help: '', type: 'counter', samples: [] }])).toThrow(/gauge and counter/);
    expect(() => renderExposition([{ name: '1bad', help: '', type: 'gauge', samples: [] }])).toThrow(/not valid/);
    expect(() => renderExposition([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }])).toThrow(/not valid/);
  });

  it('formats special values', () => {
    expect([formatValue(Infinity), formatValue(-Infinity), formatValue(NaN), formatValue(0.25)]).toEqual(['+Inf', '-Inf', 'NaN', '0.25']);
    expect(escapeLabelValue('plain')).toBe('plain');
  });

  it('statsToFamilies: groups links by transport/direction/auth and spans by service/dist', () => {
    const link = { peerNodeId: null, upSeconds: 1, messagesIn: 1, messagesOut: 2, bytesIn: 64, bytesOut: 128, openTransactions: 0, relayedOpen: 0, queuedBytes: 0 };
    const stats: RelayStats = {
      node: { name: 'n', nodeId: 'id', uptimeSeconds: 5, listening: [], ready: true },
      time: 0,
      links: [
        { ...link, connId: 'c1', peerName: 'a', transport: 'tcp', direction: 'in', auth: 'none' },
        { ...link, connId: 'c2', peerName: 'b', transport: 'tcp', direction: 'in', auth: 'none' },
        { ...link, connId: 'c3', peerName: null, transport: 'tls', direction: 'out', auth: 'verified' },
      ],
      spans: [
        { service: 's', instance: 'i1', node: null, dist: 1, via: 'c1', viaName: 'a', path: [] },
        { service: 's', instance: 'i2', node: null, dist: 1, via: 'c2', viaName: 'b', path: [] },
        { service: 't', instance: 'i3', node: null, dist: -1, via: null, viaName: null, path: [] },
      ],
      totals: {
        linksUp: 3, linksOpened: 4, linksClosed: { 'peer-closed': 1 }, messagesIn: 3, messagesOut: 6, bytesIn: 192, bytesOut: 384, relayedOpen: 0,
        spanRelays: 2, spanMessagesSent: 9, spansRefused: 0, refusedBeforeConn: 0, spanEvents: { up: 3, down: 0, changed: 1 }, protocolErrors: {}, crcErrors: 0, keepaliveLosses: 0,
      },
    };
    const p = parseExposition(renderExposition(statsToFamilies(stats)));
    expect(sum(p, 'dmsg_links_up', { transport: 'tcp', direction: 'in', auth: 'none' })).toBe(2);
    expect(sum(p, 'dmsg_links_up', { transport: 'tls', auth: 'verified' })).toBe(1);
    expect(sum(p, 'dmsg_spans', { service: 's', dist: '1' })).toBe(2);
    expect(sum(p, 'dmsg_spans', { service: 't', dist: '-1' })).toBe(1);
    expect(sum(p, 'dmsg_links_closed_total', { reason: 'peer-closed' })).toBe(1);
    expect(sum(p, 'dmsg_span_events_total', { type: 'changed' })).toBe(1);
    expect(p.samples.filter((s) => s.name === 'dmsg_link_bytes_sent_total').map((s) => s.labels['link'])).toEqual(['c1', 'c2', 'c3']);
  });
});

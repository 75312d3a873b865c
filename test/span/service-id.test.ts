import { describe, expect, it } from 'vitest';
import { v5 } from 'uuid';
import { createHash } from 'node:crypto';
import { LABEL_MAX_BYTES, SERVICE_NAMESPACE, serviceClusterId } from '../../src/span/service-id.ts';
import { SPAN_DEFAULTS, resolveSpanOptions } from '../../src/span/options.ts';
import { InvalidArgumentError } from '../../src/wire/errors.ts';

describe('serviceClusterId', () => {
  it('is UUIDv5 of the UTF-8 name in SERVICE_NAMESPACE', () => {
    const name = 'dlm/lockspace-é';
    // Recompute from RFC 9562 §5.5 directly with node:crypto.
    const ns = Buffer.from(SERVICE_NAMESPACE.replaceAll('-', ''), 'hex');
    const h = createHash('sha1').update(ns).update(Buffer.from(name, 'utf8')).digest().subarray(0, 16);
    h[6] = (h[6]! & 0x0f) | 0x50;
    h[8] = (h[8]! & 0x3f) | 0x80;
    const hex = h.toString('hex');
    const expected = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    expect(serviceClusterId(name)).toBe(expected);
    expect(serviceClusterId(name)).toBe(v5(name, SERVICE_NAMESPACE));
    expect(serviceClusterId('a')).not.toBe(serviceClusterId('b'));
  });

  it('rejects names that do not fit a label', () => {
    expect(() => serviceClusterId('')).toThrow(InvalidArgumentError);
    expect(() => serviceClusterId('x'.repeat(LABEL_MAX_BYTES + 1))).toThrow(InvalidArgumentError);
    expect(() => serviceClusterId('a\u0000b')).toThrow(InvalidArgumentError);
    expect(serviceClusterId('x'.repeat(LABEL_MAX_BYTES))).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('resolveSpanOptions', () => {
  it('returns frozen defaults and a new object', () => {
    const o = resolveSpanOptions();
    expect(o).toEqual(SPAN_DEFAULTS);
    expect(o).not.toBe(SPAN_DEFAULTS);
    expect(Object.isFrozen(o)).toBe(true);
    expect(Object.isFrozen(SPAN_DEFAULTS)).toBe(true);
    expect(SPAN_DEFAULTS.maxRelayedPaths).toBe(1);
    expect(SPAN_DEFAULTS.maxDist).toBe(1024);
    expect(SPAN_DEFAULTS.maxPathLength).toBe(1024);
  });

  it('validates precisely', () => {
    expect(resolveSpanOptions({ maxRelayedPaths: 2 }).maxRelayedPaths).toBe(2);
    expect(() => resolveSpanOptions({ maxRelayedPaths: 0 })).toThrow(/maxRelayedPaths must be an integer in \[1, 64\], got 0/);
    expect(() => resolveSpanOptions({ maxDist: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => resolveSpanOptions({ maxPathLength: 70000 })).toThrow(InvalidArgumentError);
    expect(() => resolveSpanOptions({ maxSpansPerLink: 10, maxSpansTotal: 5 })).toThrow(InvalidArgumentError);
    expect(() => resolveSpanOptions({ maxdist: 3 } as never)).toThrow(/unknown span option "maxdist"/);
  });
});

import { describe, it } from 'vitest';
import { transportCompliance } from './compliance.ts';
import { ipv6Unavailable, tcpFactory } from './pairs.ts';

transportCompliance('tcp 127.0.0.1', tcpFactory('127.0.0.1'));

const noV6 = await ipv6Unavailable();
if (noV6 === undefined) {
  transportCompliance('tcp ::1', tcpFactory('::1'));
} else {
  describe.skip(`tcp ::1 (skipped: IPv6 loopback unavailable: ${noV6})`, () => {
    it('compliance', () => {});
  });
}

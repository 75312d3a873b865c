import { describe, it } from 'vitest';
import { transportCompliance } from './compliance.ts';
import { makeSelfSignedCert, tlsFactory } from './pairs.ts';

const cert = makeSelfSignedCert();
if (typeof cert === 'string') {
  describe.skip(`tls (skipped: cannot make a test certificate: ${cert})`, () => {
    it('compliance', () => {});
  });
} else {
  transportCompliance('tls', tlsFactory(cert));
}

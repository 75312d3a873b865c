/**
 * Whether the network-namespace scenarios run: only under `npm run test:hosts`
 * (DMSG_HOSTS=1) and where namespaces can be made (Linux, root). The reason
 * is the skipped test's name, so the run says why.
 */
import { netnsUnavailable } from './netns.ts';

export function hostsSkipReason(): string | null {
  if (process.env['DMSG_HOSTS'] !== '1') return 'network-namespace hosts run only under npm run test:hosts (DMSG_HOSTS=1)';
  return netnsUnavailable();
}

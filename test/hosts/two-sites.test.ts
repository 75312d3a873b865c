/** The routing scenario (routing-scenario.ts) on topologies/two-sites.json: network namespaces, one `dmsg relay` each. */
import { defineRoutingTest } from './define-routing-test.ts';

defineRoutingTest('two-sites.json', 's');

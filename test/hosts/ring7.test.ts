/** The routing scenario (routing-scenario.ts) on topologies/ring7.json: network namespaces, one `dmsg relay` each. */
import { defineRoutingTest } from './define-routing-test.ts';

defineRoutingTest('ring7.json', 'r');

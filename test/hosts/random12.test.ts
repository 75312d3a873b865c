/** The routing scenario (routing-scenario.ts) on topologies/random12.json: network namespaces, one `dmsg relay` each. */
import { defineRoutingTest } from './define-routing-test.ts';

defineRoutingTest('random12.json', 'm');

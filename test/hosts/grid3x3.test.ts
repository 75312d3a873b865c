/** The routing scenario (routing-scenario.ts) on topologies/grid3x3.json: network namespaces, one `dmsg relay` each. */
import { defineRoutingTest } from './define-routing-test.ts';

defineRoutingTest('grid3x3.json', 'g');

/**
 * The views attack tests' prologue and epilogue on a `FakeCluster`
 * (test/services/dlm/views/driver-harness.ts): start a cluster that has
 * elected a leader, tell whether it is healthy, and let it heal after an
 * attack, all in virtual time.
 */
import { FakeCluster } from '../services/dlm/views/driver-harness.ts';

/** The cluster is healthy: one leader, every node granting under the same view. */
export function isHealthy(c: FakeCluster): boolean {
  const views = new Set([...c.nodes.values()].map((n) => (n.target.grants ? n.driver.stats.view : -1)));
  return c.leader() !== undefined && views.size === 1 && !views.has(-1);
}

/** A FakeCluster of `voters` after proposing the reachable view and 2 s of virtual time (long enough to elect and grant). */
export function electedCluster(voters: number[] = [1, 2, 3]): FakeCluster {
  const c = new FakeCluster(voters);
  c.proposeReachable();
  c.advance(2000);
  return c;
}

/** Propose the reachable view and advance 100 ms at a time until the cluster is healthy or `maxMs` of virtual time passed. */
export function proposeUntilHealthy(c: FakeCluster, maxMs = 10_000): void {
  for (let t = 0; t < maxMs && !isHealthy(c); t += 100) {
    c.proposeReachable();
    c.advance(100);
  }
}

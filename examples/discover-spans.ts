/**
 * Span-based service discovery: a client learns which services exist, where
 * (which node, how many relays away) and notices when they come and go,
 * without any registry: the relays flood LNK_SPAN advertisements.
 *
 *   npm run example -- examples/discover-spans.ts   (in this repository)
 *   npx tsx discover-spans.ts                       (copied into a project that installed dmsg-mesh)
 */
import { Router, startRelay, connectTcp, DMSG_PEER } from 'dmsg-mesh';

// A line of three relays: a - b - c. Services live on a and c.
const a = await startRelay({ name: 'a', listen: ['127.0.0.1:0'], advertise: ['storage/a1', 'metrics'] });
const b = await startRelay({ name: 'b', listen: ['127.0.0.1:0'], connect: [a.addresses[0]!] });
const c = await startRelay({ name: 'c', listen: ['127.0.0.1:0'], connect: [b.addresses[0]!], advertise: ['storage/c1'] });

// The client links to b only.
const client = new Router({ name: 'watcher', peerType: DMSG_PEER.CLIENT });
client.spans$.subscribe((e) => console.log(`event ${e.type.padEnd(7)} ${e.span.service}/${e.span.instance} dist=${e.span.dist}`));
const [host, port] = b.addresses[0]!.split(':') as [string, string];
client.attach(await connectTcp({ host, port: Number(port) }));

// Wait (on events, not on a timer) until all three spans are known.
const signal = AbortSignal.timeout(5000);
await new Promise<void>((resolve, reject) => {
  const check = (): void => { if (client.spans().length >= 3) { sub.unsubscribe(); resolve(); } };
  const sub = client.spans$.subscribe(check);
  signal.addEventListener('abort', () => reject(new Error('spans did not arrive in 5 s')), { once: true });
  check();
});

console.log('\nservices of type "storage":');
for (const s of client.spans('storage')) console.log(`  ${s.instance}: node ${s.node}, dist ${s.dist} (hops past b)`);

// A service going away is an event too.
const gone = new Promise<void>((resolve) => {
  const sub = client.spans$.subscribe((e) => { if (e.type === 'down' && e.span.instance === 'c1') { sub.unsubscribe(); resolve(); } });
});
console.log('\nrelay c stops:');
await c.stop();
await gone;
console.log(`storage instances left: ${client.spans('storage').map((s) => s.instance).join(', ')}`);

await client.close();
await b.stop();
await a.stop();

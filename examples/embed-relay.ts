/**
 * Embedding a relay in your own daemon: `startRelay()` is what `dmsg relay`
 * runs. Here two relays link on loopback TCP, your daemon advertises its own
 * service on one of them, and a plain client dialled to the other uses it.
 *
 *   npm run example -- examples/embed-relay.ts   (in this repository)
 *   npx tsx embed-relay.ts                       (copied into a project that installed dmsg-mesh)
 */
import { lastValueFrom, toArray } from 'rxjs';
import { Router, startRelay, connectTcp, DMSG, DMSG_PEER } from 'dmsg-mesh';

const enc = new TextEncoder();
const dec = new TextDecoder();

// 1. Your daemon's relay: listens on a free loopback port, logs its events.
const mine = await startRelay({
  name: 'my-daemon',
  listen: ['127.0.0.1:0'],
  log: (line) => console.log(`  [log] ${line}`),
});
console.log(`my-daemon listens on ${mine.addresses[0]}`);

// 2. Your own service on it, with your own code (here: count the bytes).
const ad = mine.router.advertise({ service: 'bytecount', instance: 'my-daemon' });
ad.transactions$.subscribe((tx) => {
  tx.rx$.subscribe({
    next: (msg) => {
      if (msg.aux.length > 0 && tx.canSend) tx.send(DMSG.DBG_SHELL, { aux: enc.encode(`${msg.aux.length} bytes`) });
    },
    complete: () => tx.close(),
    error: () => {},
  });
});

// 3. A second relay (it could be another process: `dmsg relay --connect ...`),
//    with a built-in echo service and a link to ours, redialled if it drops.
const other = await startRelay({ name: 'other', listen: ['127.0.0.1:0'], connect: [mine.addresses[0]!], advertise: ['echo'] });

// 4. A client on the second relay finds both services and calls them.
const [host, port] = other.addresses[0]!.split(':') as [string, string];
const client = new Router({ name: 'client', peerType: DMSG_PEER.CLIENT });
client.attach(await connectTcp({ host, port: Number(port) }));
const timeout = AbortSignal.timeout(5000);
for (const service of ['bytecount', 'echo']) {
  const span = await client.waitForSpan(service, timeout);
  const tx = client.open(span, DMSG.DBG_SHELL, { aux: enc.encode('hello from the client'), delete: true });
  const replies = await lastValueFrom(tx.rx$.pipe(toArray()));
  console.log(`${service} on ${span.instance} (dist ${span.dist}) answered: ${replies.filter((m) => m.aux.length).map((m) => dec.decode(m.aux)).join(', ')}`);
}

// 5. Shut down the way `dmsg relay` does on SIGTERM: withdraw spans, close links, close listeners.
await client.close();
await other.stop();
await mine.stop();
console.log('done');

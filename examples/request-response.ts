/**
 * Request/response over a span: a service answers each transaction opened
 * on its span with one reply and closes it; a client sends several requests
 * at once (each its own transaction, through a relay) and matches replies
 * by transaction, not by any id in the payload.
 *
 *   npm run example -- examples/request-response.ts   (in this repository)
 *   npx tsx request-response.ts                       (copied into a project that installed dmsg-mesh)
 */
import { lastValueFrom, toArray } from 'rxjs';
import { Router, startRelay, connectTcp, DMSG, DMSG_ERR, DMSG_PEER } from 'dmsg-mesh';

const enc = new TextEncoder();
const dec = new TextDecoder();

// The server: a relay whose router advertises 'sqrt'. Each request carries a
// number as text; the answer is one message and a DELETE (a reply), or an
// error code in the final LNK_ERROR.
const server = await startRelay({ name: 'server', listen: ['127.0.0.1:0'] });
server.router.advertise({ service: 'sqrt' }).transactions$.subscribe((tx) => {
  tx.rx$.subscribe({
    next: (msg) => {
      if (msg.aux.length === 0 || !tx.canSend) return;
      const x = Number(dec.decode(msg.aux));
      if (!Number.isFinite(x) || x < 0) tx.reply(DMSG_ERR.PARAM);
      else tx.send(DMSG.DBG_SHELL, { aux: enc.encode(String(Math.sqrt(x))), delete: true });
    },
    error: () => {},
  });
});

// A relay in between, and a client on it.
const relay = await startRelay({ name: 'relay', listen: ['127.0.0.1:0'], connect: [server.addresses[0]!] });
const client = new Router({ name: 'client', peerType: DMSG_PEER.CLIENT });
const [host, port] = relay.addresses[0]!.split(':') as [string, string];
client.attach(await connectTcp({ host, port: Number(port) }));
const span = await client.waitForSpan('sqrt', AbortSignal.timeout(5000));
console.log(`sqrt found on ${span.instance}, ${span.dist} relay(s) away`);

/** One request: open, send with DELETE (our side is done), collect until the service's DELETE. */
async function request(text: string): Promise<string> {
  const tx = client.open(span, DMSG.DBG_SHELL, { aux: enc.encode(text), delete: true });
  const msgs = await lastValueFrom(tx.rx$.pipe(toArray()));
  const last = msgs.at(-1)!;
  if (last.header.error !== 0) return `error 0x${last.header.error.toString(16)}`;
  return msgs.filter((m) => m.aux.length > 0).map((m) => dec.decode(m.aux)).join('');
}

// Concurrent requests, each its own transaction.
const inputs = ['2', '144', 'minus one', '1e6'];
const answers = await Promise.all(inputs.map(request));
inputs.forEach((x, i) => console.log(`sqrt(${x}) = ${answers[i]}`));

await client.close();
await relay.stop();
await server.stop();

/**
 * `dmsg call ADDR SERVICE[/INSTANCE] [TEXT]`: find SERVICE through a relay,
 * open a transaction on its nearest instance's span (or on INSTANCE's), with
 * TEXT as aux, through every relay on the way, and print what comes back.
 * Services of `dmsg relay --advertise` echo it.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { TransactionError } from '../../iocom/errors.ts';
import { DMSG } from '../../wire/constants.ts';
import type { Message } from '../../wire/message.ts';
import { CommandError, UsageError, type Command, type CommandContext } from '../command.ts';
import { CLIENT_OPTIONS, clientSettings, dialRouter, parseServiceTarget, waitForNearest, withinDeadline, type ClientLink } from '../client.ts';
import { LinkFailure } from '../link-failure.ts';

/** A transaction error caused by the link going away is reported as the link's failure. */
function callFailure(err: unknown, link: ClientLink): Error {
  if (err instanceof LinkFailure || err instanceof CommandError) return err;
  if (err instanceof TransactionError && err.code === 'LOST_LINK') {
    const f = link.failure();
    if (f) return f;
  }
  return new CommandError('CALL_FAILED', `transaction failed: ${(err as Error).message}`, { cause: err });
}

export const callCommand: Command = {
  name: 'call',
  summary: 'send TEXT to a service through the mesh and print the reply (relay services echo)',
  usage: 'dmsg call ADDR SERVICE[/INSTANCE] [TEXT]',
  details: [
    "Waits up to --timeout-ms for the service's span, then opens one DBG_SHELL transaction on the",
    'nearest instance (least dist; or on INSTANCE) with TEXT (default "hello") as aux, closes its side,',
    'and prints each reply\'s aux and the round-trip time. DIST is the span\'s dist as carried on the wire.',
    'Exit 1 if the link fails, no span comes, no answer comes within --timeout-ms, or the answer carries an error.',
  ].join('\n'),
  options: {
    json: { type: 'boolean', description: 'one JSON object: {"service","instance","node","dist","via","replies","ms","error"}' },
    ...CLIENT_OPTIONS,
  },
  maxPositionals: 3,
  async run({ values, positionals, io }: CommandContext): Promise<number> {
    const [target, serviceText, text = 'hello'] = positionals;
    const settings = clientSettings(target, values, 'call');
    if (serviceText === undefined) throw new UsageError('missing SERVICE', 'call');
    const { service, instance } = parseServiceTarget(serviceText, 'call');
    const json = values['json'] === true;
    const { router, link } = await dialRouter(settings, 'dmsg-call');
    try {
      const what = instance === undefined ? `'${service}'` : `'${service}/${instance}'`;
      const span = await withinDeadline(waitForNearest(router, service, instance), link, settings.timeoutMs, () => new CommandError('NO_SPAN', `no span of ${what} seen through ${target} within ${settings.timeoutMs} ms`));
      if (!json) io.stdout.write(`${span.service}/${span.instance}: dist ${span.dist} via ${span.viaName ?? span.via}\n`);
      const t0 = performance.now();
      const msgs = await withinDeadline(
        (async () => lastValueFrom(router.open(span, DMSG.DBG_SHELL, { aux: new TextEncoder().encode(text), delete: true }).rx$.pipe(toArray<Message>())))(),
        link,
        settings.timeoutMs,
        () => new CommandError('TIMEOUT', `${span.service}/${span.instance} did not finish the transaction within ${settings.timeoutMs} ms`),
      ).catch((err: unknown) => {
        throw callFailure(err, link);
      });
      const ms = performance.now() - t0;
      const replies = msgs.filter((m) => m.aux.length > 0).map((m) => new TextDecoder().decode(m.aux));
      const err = msgs.at(-1)?.header.error ?? 0;
      if (json) {
        io.stdout.write(JSON.stringify({ service: span.service, instance: span.instance, node: span.node, dist: span.dist, via: span.viaName ?? span.via, replies, ms: Number(ms.toFixed(3)), error: err }) + '\n');
      } else {
        for (const r of replies) io.stdout.write(`reply: ${r}\n`);
        io.stdout.write(`${replies.length} repl${replies.length === 1 ? 'y' : 'ies'} in ${ms.toFixed(3)} ms${err ? `, error 0x${err.toString(16)}` : ''}\n`);
      }
      return err ? 1 : 0;
    } finally {
      await router.close();
    }
  },
};

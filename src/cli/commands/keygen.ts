/** `dmsg keygen --out FILE`: an Ed25519 key pair for --key / --allow-key. */
import { stringOption, UsageError, type Command, type CommandContext } from '../command.ts';
import { writeKeyPair } from '../keys.ts';

export const keygenCommand: Command = {
  name: 'keygen',
  summary: 'write an Ed25519 key pair (FILE and FILE.pub) for relay authentication',
  usage: 'dmsg keygen --out FILE',
  details: 'Give FILE to this node\'s --key and FILE.pub to its peers\' --allow-key.',
  options: {
    out: { type: 'string', short: 'o', valueName: 'FILE', description: 'private key file (PEM, mode 0600); the public key goes to FILE.pub' },
    force: { type: 'boolean', description: 'overwrite existing files' },
  },
  async run({ values, io }: CommandContext): Promise<number> {
    const out = stringOption(values, 'out', 'keygen');
    if (out === undefined || out === '') throw new UsageError('missing --out FILE', 'keygen');
    const r = writeKeyPair(out, values['force'] === true);
    io.stdout.write(`wrote ${r.privateFile} (private) and ${r.publicFile} (public), key ${r.fingerprint}\n`);
    return 0;
  },
};

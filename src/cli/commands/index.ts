/**
 * The command registry, in the order `dmsg help` lists them.
 * Add a command: write commands/<name>.ts exporting a `Command`, add one line here.
 */
import type { Command } from '../command.ts';
import { benchCommand } from './bench.ts';
import { callCommand } from './call.ts';
import { decodeCommand } from './decode.ts';
import { demoCommand } from './demo.ts';
import { helpCommand } from './help.ts';
import { keygenCommand } from './keygen.ts';
import { locksCommand } from './locks.ts';
import { pingCommand } from './ping.ts';
import { relayCommand } from './relay.ts';
import { shellCommand } from './shell.ts';
import { spansCommand } from './spans.ts';
import { topCommand } from './top.ts';

export const COMMANDS: readonly Command[] = [
  demoCommand,
  relayCommand,
  spansCommand,
  callCommand,
  pingCommand,
  shellCommand,
  topCommand,
  locksCommand,
  keygenCommand,
  decodeCommand,
  benchCommand,
  helpCommand,
];

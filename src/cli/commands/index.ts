/**
 * The command registry, in the order `dmsg help` lists them.
 * Add a command: write commands/<name>.ts exporting a `Command`, add one line here.
 */
import type { Command } from '../command.ts';
import { benchCommand } from './bench.ts';
import { decodeCommand } from './decode.ts';
import { demoCommand } from './demo.ts';
import { helpCommand } from './help.ts';

export const COMMANDS: readonly Command[] = [
  demoCommand,
  decodeCommand,
  benchCommand,
  helpCommand,
];

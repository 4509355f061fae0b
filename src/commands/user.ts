import { Command } from 'commander';

/** `pgauth user` (being written). */
export function userCommand(): Command {
  return new Command('user').description('(not available yet)');
}

import { Command } from 'commander';

/** `pgauth session` (being written). */
export function sessionCommand(): Command {
  return new Command('session').description('(not available yet)');
}

import { Command } from 'commander';

/** `pgauth serve` (being written). */
export function serveCommand(): Command {
  return new Command('serve').description('(not available yet)');
}

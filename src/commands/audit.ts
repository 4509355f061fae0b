import { Command } from 'commander';

/** `pgauth audit` (being written). */
export function auditCommand(): Command {
  return new Command('audit').description('(not available yet)');
}

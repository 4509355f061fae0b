/** A failure the CLI reports as one line on stderr with exit code 1, without a stack. */
export class UsageError extends Error {
  override name = 'UsageError';
}

import { UsageError } from './common.ts';

/** More than any password pgauth accepts (1024 characters of up to 4 bytes), to bound the read. */
const MAX_STDIN_BYTES = 16 * 1024;

/** Reads a password from standard input: everything up to its end, without one trailing newline. */
export async function readPasswordFromStdin(
  input: NodeJS.ReadableStream = process.stdin,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > MAX_STDIN_BYTES) throw new UsageError('the password on standard input is too long');
    chunks.push(b);
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Asks for one line on the terminal without echoing it. Ctrl-C or Ctrl-D cancels. */
export function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  const output = process.stderr;
  return new Promise((resolve, reject) => {
    let value = '';
    /** Inside an escape sequence (arrow keys, function keys, bracketed paste markers): none of it is typed text. */
    let inEscape: 'none' | 'start' | 'body' = 'none';
    const finish = (err?: Error): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (inEscape === 'start') {
          // ESC [ … or ESC O … (CSI, SS3) run to a final byte; ESC and one other character end here.
          inEscape = ch === '[' || ch === 'O' ? 'body' : 'none';
          continue;
        }
        if (inEscape === 'body') {
          if (ch >= '@' && ch <= '~') inEscape = 'none';
          continue;
        }
        if (ch === '\u001b') {
          inEscape = 'start';
          continue;
        }
        if (ch === '\r' || ch === '\n') {
          finish();
          return;
        }
        if (ch === '\u0003' || (ch === '\u0004' && value === '')) {
          finish(new UsageError('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch === '\u0015') value = '';
        else if (ch >= ' ') value += ch;
      }
    };
    // Echo goes off before the question shows, so that nothing typed after it is ever echoed.
    input.setEncoding('utf8');
    input.setRawMode(true);
    input.on('data', onData);
    input.resume();
    output.write(question);
  });
}

/**
 * The new password for `user add` and `user passwd`: from standard input with `--password-stdin`,
 * else asked twice on the terminal. Without a terminal and without the flag there is nobody to ask.
 */
export async function readNewPassword(fromStdin: boolean | undefined): Promise<string> {
  if (fromStdin) return readPasswordFromStdin();
  if (!process.stdin.isTTY) {
    throw new UsageError(
      'standard input is not a terminal: pass the password with --password-stdin',
    );
  }
  const first = await promptHidden('New password: ');
  const second = await promptHidden('Repeat the password: ');
  if (first !== second) throw new UsageError('the two passwords differ; nothing was changed');
  return first;
}

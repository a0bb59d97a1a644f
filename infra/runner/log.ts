/** Progress output of the stack runner: short, prefixed lines on stderr, so stdout stays data. */

const started = Date.now();

function elapsed(): string {
  return `${((Date.now() - started) / 1000).toFixed(1)}s`;
}

export const log = {
  step(message: string): void {
    process.stderr.write(`==> ${message}\n`);
  },
  info(message: string): void {
    process.stderr.write(`    ${message}\n`);
  },
  done(message: string): void {
    process.stderr.write(`    ✓ ${message} (${elapsed()})\n`);
  },
  warn(message: string): void {
    process.stderr.write(`    ! ${message}\n`);
  },
};

/**
 * An error meant for the person running the stack: it names the component and the step
 * and says what to do. The CLI prints its message alone, without a stack trace.
 */
export class StackError extends Error {
  override readonly name = 'StackError';
}

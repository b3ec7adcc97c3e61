import { styleText } from 'node:util';

export type Verbosity = 'quiet' | 'normal' | 'verbose';

export interface Output {
  readonly verbosity: Verbosity;
  info(line: string): void;
  detail(line: string): void;
  warn(line: string): void;
  /** Run one titled piece of work, printing ` ✓ title` or ` ✗ title` (a spinner on a terminal). */
  step<T>(title: string, work: () => Promise<T>): Promise<T>;
}

export interface OutputOptions {
  verbosity?: Verbosity;
  stream?: NodeJS.WriteStream;
  /** Show a spinner. Defaults to on for a TTY (the CLI turns it off under CI=true). */
  interactive?: boolean;
}

const spinnerFrames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function createOutput(options: OutputOptions = {}): Output {
  const stream = options.stream ?? process.stderr;
  const verbosity = options.verbosity ?? 'normal';
  const interactive = options.interactive ?? stream.isTTY;
  // A line printed while a spinner turns (a wait's progress) first clears the spinner's line.
  let spinning = false;
  const write = (line: string): void => {
    stream.write(`${spinning ? '\r\x1b[2K' : ''}${line}\n`);
  };

  return {
    verbosity,
    info(line) {
      if (verbosity !== 'quiet') write(line);
    },
    detail(line) {
      if (verbosity === 'verbose') write(styleText('dim', line));
    },
    warn(line) {
      write(styleText('yellow', `! ${line}`));
    },
    async step(title, work) {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      if (interactive && verbosity !== 'quiet') {
        spinning = true;
        let frame = 0;
        timer = setInterval(() => {
          stream.write(`\r${spinnerFrames[frame++ % spinnerFrames.length] ?? ''} ${title}`);
        }, 80);
      } else if (verbosity === 'verbose') {
        write(`• ${title}`);
      }
      const finish = (mark: string): void => {
        if (timer) {
          clearInterval(timer);
          spinning = false;
          stream.write('\r\x1b[2K');
        }
        if (verbosity !== 'quiet' || mark.includes('✗')) {
          const seconds = ((Date.now() - started) / 1000).toFixed(1);
          write(`${mark} ${title} ${styleText('dim', `(${seconds}s)`)}`);
        }
      };
      try {
        const result = await work();
        finish(styleText('green', ' ✓'));
        return result;
      } catch (err) {
        finish(styleText('red', ' ✗'));
        throw err;
      }
    },
  };
}

/** An Output that records lines instead of printing them, for tests. */
export function createRecordingOutput(): Output & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    verbosity: 'normal',
    info: (line) => lines.push(line),
    detail: (line) => lines.push(line),
    warn: (line) => lines.push(`! ${line}`),
    async step(title, work) {
      try {
        const result = await work();
        lines.push(` ✓ ${title}`);
        return result;
      } catch (err) {
        lines.push(` ✗ ${title}`);
        throw err;
      }
    },
  };
}

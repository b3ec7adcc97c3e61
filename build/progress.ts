/**
 * Reads a build log as it streams (BuildKit's plain progress: `#7 [build 3/6] RUN npm ci`,
 * `#7 12.3 output…`, `#7 DONE 5.2s`, `#7 ERROR: …`): which step runs, which one failed, and the
 * output of each step, for the progress lines and the failure message.
 */
export class BuildLog {
  private readonly titles = new Map<string, string>();
  private readonly outputs = new Map<string, string[]>();
  private readonly plain: string[] = [];
  failedStep: string | undefined;
  failure: string | undefined;

  /** Reads one line; returns the title of a step that just started, if this line starts one. */
  read(line: string): string | undefined {
    const match = /^#(\d+) (.*)$/.exec(line);
    if (match === null) {
      this.plain.push(line);
      // buildctl's own last word (a Dockerfile it cannot parse, a solve that fails outside a step).
      const said = /^error: (.*)$/.exec(line)?.[1];
      if (said !== undefined) this.failure ??= said;
      return undefined;
    }
    const [, id = '', rest = ''] = match;
    if (!this.titles.has(id)) {
      this.titles.set(id, rest);
      return /^\[.+\]/.test(rest) ? rest : undefined;
    }
    const error = /^ERROR: (.*)$/.exec(rest);
    // A cache not there yet to import (a first build) is an ERROR that does not stop the build.
    if (error !== null && !(this.titles.get(id) ?? '').startsWith('importing cache manifest')) {
      // The last error is the one that stopped the build.
      this.failedStep = this.titles.get(id);
      this.failure = error[1];
      return undefined;
    }
    if (!/^(DONE|CACHED)\b/.test(rest)) this.outputs.set(id, [...(this.outputs.get(id) ?? []), rest.replace(/^\d+(\.\d+)? /, '')]);
    return undefined;
  }

  /** The last lines of the failed step's output (or of the whole log when no step failed). */
  tail(count = 20): string[] {
    const failedId = [...this.titles.entries()].find(([, title]) => title === this.failedStep)?.[0];
    const lines = failedId === undefined ? this.plain : (this.outputs.get(failedId) ?? []);
    return lines.filter((line) => line.trim() !== '').slice(-count);
  }
}

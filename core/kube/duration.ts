import { UserError } from '../errors.ts';

const units: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `90s`, `5m`, `1h30m`, `500ms` into milliseconds; `flag` names the option in the error. */
export function parseDuration(text: string, flag: string): number {
  const trimmed = text.trim();
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  const consumed = parts.map((part) => part[0]).join('');
  if (parts.length === 0 || consumed !== trimmed) {
    throw new UserError(`${flag} '${text}' is not a duration — use a number with a unit, e.g. 90s, 5m or 1h`);
  }
  const ms = parts.reduce((total, part) => total + Number(part[1]) * (units[part[2] ?? ''] ?? 0), 0);
  if (ms <= 0) throw new UserError(`${flag} '${text}' must be longer than zero, e.g. 5m`);
  return Math.round(ms);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Number((ms / 1000).toFixed(1))}s`;
}

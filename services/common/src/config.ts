/**
 * Environment configuration, validated once at start. A bad value stops the service before it
 * listens, with one line naming the variable and what it expects.
 */

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Exit code of a service started with invalid configuration. */
export const configErrorExitCode = 2;

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads one variable: `undefined` or empty means "use the default". */
export type Field<T> = (name: string, raw: string | undefined) => T;

export type Schema = Record<string, Field<unknown>>;
export type ConfigOf<S extends Schema> = { readonly [K in keyof S]: ReturnType<S[K]> };

export function loadConfig<S extends Schema>(schema: S, env: Env): ConfigOf<S> {
  const config: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(schema)) {
    const raw = env[name];
    config[name] = field(name, raw === '' ? undefined : raw);
  }
  return config as ConfigOf<S>;
}

function invalid(name: string, raw: string, expected: string): ConfigError {
  return new ConfigError(`invalid ${name}=${JSON.stringify(raw)}: expected ${expected}`);
}

function integer(raw: string): number | undefined {
  return /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : undefined;
}

export function port(fallback: number): Field<number> {
  return (name, raw) => {
    if (raw === undefined) return fallback;
    const value = integer(raw);
    if (value === undefined || value < 1 || value > 65535) throw invalid(name, raw, 'an integer port 1-65535');
    return value;
  };
}

export function milliseconds(fallback: number, max = 3_600_000): Field<number> {
  return (name, raw) => {
    if (raw === undefined) return fallback;
    const value = integer(raw);
    if (value === undefined || value > max) throw invalid(name, raw, `a whole number of milliseconds 0-${max}`);
    return value;
  };
}

export function count(fallback: number, max: number): Field<number> {
  return (name, raw) => {
    if (raw === undefined) return fallback;
    const value = integer(raw);
    if (value === undefined || value > max) throw invalid(name, raw, `an integer 0-${max}`);
    return value;
  };
}

export function rate(fallback: number): Field<number> {
  return (name, raw) => {
    if (raw === undefined) return fallback;
    const value = /^\s*(0|1|0?\.\d+|1\.0*)\s*$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(value >= 0 && value <= 1)) throw invalid(name, raw, 'a number from 0 to 1 (e.g. 0.05)');
    return value;
  };
}

/** An absolute http(s) URL with no path beyond "/", e.g. http://backend:8080. */
export function origin(fallback: string): Field<URL> {
  return (name, raw) => {
    const text = raw ?? fallback;
    const expected = 'an absolute http(s) URL such as http://backend:8080';
    if (!URL.canParse(text)) throw invalid(name, text, expected);
    const url = new URL(text);
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') throw invalid(name, text, expected);
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') {
      throw invalid(name, text, `${expected}, without path, query or credentials`);
    }
    return url;
  };
}

export function oneOf<const T extends string>(fallback: T, values: readonly T[]): Field<T> {
  return (name, raw) => {
    if (raw === undefined) return fallback;
    const value = values.find((v) => v === raw.trim());
    if (value === undefined) throw invalid(name, raw, `one of ${values.join(', ')}`);
    return value;
  };
}

export function optionalText(): Field<string | undefined> {
  return (_name, raw) => raw;
}

/** The settings every tracelab service shares. */
export const commonSchema = {
  PORT: port(8080),
  SHUTDOWN_GRACE_MS: milliseconds(10_000),
  LOG_LEVEL: oneOf('info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  POD_NAME: optionalText(),
  POD_NAMESPACE: optionalText(),
  NODE_NAME: optionalText(),
} satisfies Schema;

/**
 * Runs `read` (validation of the environment) or ends the process: one line on stderr, exit
 * code 2. Only service entry points call this, before anything listens.
 */
export function exitOnConfigError<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(configErrorExitCode);
  }
}

export function loadConfigOrExit<S extends Schema>(schema: S, env: Env = process.env): ConfigOf<S> {
  return exitOnConfigError(() => loadConfig(schema, env));
}

import { access, constants, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { $ } from 'zx';
import { UserError } from '../core/errors.ts';
import { istioRelease, renderIstioOperatorYaml, type IstioOperatorInput } from './istio-operator.ts';

export interface IstioctlSearch {
  /** `--istioctl PATH`: this one and no other. */
  readonly explicit: string | undefined;
  /** `--artifacts DIR`: its bin/istioctl. */
  readonly artifacts: string | undefined;
  /** The Go-built components' cache (`$TRACELAB_CACHE/bin`), where `artifacts build` makes istioctl. */
  readonly cacheBin: string;
  /** The PATH to look in last. */
  readonly path: string | undefined;
}

const howToGet = `build it with \`bash testenv/components/build.sh istio\` (or \`tracelab artifacts build\`), or put istioctl ${istioRelease} from Istio's release archive on PATH (or pass --istioctl PATH)`;

async function executable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The version an istioctl binary reports, e.g. `1.31.0`. */
export async function istioctlVersion(istioctl: string): Promise<string> {
  const result = await $({ nothrow: true, quiet: true })`${istioctl} version --remote=false --short`;
  if (result.exitCode !== 0) {
    const reason = result.stderr.trim().split('\n').at(-1) ?? '';
    throw new UserError(`${istioctl} version failed (${reason === '' ? `exit ${String(result.exitCode)}` : reason}) — ${howToGet}`);
  }
  return result.stdout.trim().split('\n').at(-1)?.replace(/^client version:\s*/i, '').trim() ?? '';
}

/** The first istioctl of the pinned release: --istioctl, the artifacts', the cache's, then PATH's. */
export async function findIstioctl(search: IstioctlSearch): Promise<string> {
  const candidates = search.explicit !== undefined
    ? [search.explicit]
    : [
        ...(search.artifacts === undefined ? [] : [join(search.artifacts, 'bin', 'istioctl')]),
        join(search.cacheBin, 'istioctl'),
        ...(search.path ?? '').split(delimiter).filter((dir) => dir !== '').map((dir) => join(dir, 'istioctl')),
      ];
  const wrong: string[] = [];
  for (const candidate of candidates) {
    if (!(await executable(candidate))) continue;
    const version = await istioctlVersion(candidate);
    if (version === istioRelease) return candidate;
    wrong.push(`${candidate} is ${version}`);
  }
  if (search.explicit !== undefined && wrong.length === 0) throw new UserError(`--istioctl ${search.explicit} is not an executable file — ${howToGet}`);
  throw new UserError(`istioctl ${istioRelease} not found${wrong.length > 0 ? ` (${wrong.join('; ')})` : ''}: ${howToGet}`);
}

/** Istio's objects for the IstioOperator tracelab renders, from istioctl's embedded charts (no network). */
export async function generateIstioManifests(istioctl: string, input: IstioOperatorInput): Promise<KubernetesObject[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tracelab-mesh-'));
  try {
    const operator = join(dir, 'istio-operator.yaml');
    await writeFile(operator, renderIstioOperatorYaml(input));
    const result = await $({ nothrow: true, quiet: true })`${istioctl} manifest generate -f ${operator}`;
    if (result.exitCode !== 0) throw new UserError(`istioctl manifest generate failed: ${result.stderr.trim().split('\n').filter((line) => line !== '').at(-1) ?? `exit ${String(result.exitCode)}`}`);
    return parseManifests(result.stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Multi-document YAML → objects, empty documents dropped. */
export function parseManifests(text: string): KubernetesObject[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as KubernetesObject | null)
    .filter((object): object is KubernetesObject => object !== null && typeof object === 'object' && typeof object.kind === 'string');
}

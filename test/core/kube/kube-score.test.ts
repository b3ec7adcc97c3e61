import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { layers } from '../../../cli/layers.ts';
import { writeRendered } from '../../../core/kube/render.ts';
import { footprintLayerOptions } from '../../../monitoring/footprint.ts';
import { cacheDir, requireComponent } from '../../../testenv/components.ts';
import { preparedOptions, type PrepareContext } from '../../../core/layer.ts';
import { createRecordingOutput } from '../../../core/output.ts';

/**
 * kube-score (the pinned build) over every layer's rendered YAML, as `tracelab render` writes it:
 * no CRITICAL may be left. A check a workload skips is a `kube-score/ignore` annotation on it,
 * and each one needs a row in the README's justification table.
 */

/** Layers rendered with other options too, where those options change which objects exist. */
const variants: Readonly<Record<string, readonly Readonly<Record<string, string>>[]>> = {
  monitoring: [{ grafana: 'false', 'metrics-server': 'false' }],
  registry: [{ storage: 'pod' }],
  storage: [{ 'default-class': 'false', path: '/srv/tracelab-volumes' }],
  mesh: [{ kiali: 'true' }],
};

/** Layers not held to kube-score yet, each with why; remove the line once its render passes. */
const notYetChecked: Readonly<Record<string, string>> = {};

interface KubeScoreCheck {
  readonly check: { readonly id: string; readonly name: string };
  readonly grade: number;
  readonly skipped: boolean;
  readonly comments: readonly { readonly path?: string; readonly summary: string }[] | null;
}
interface KubeScoreObject {
  readonly object_name: string;
  readonly checks: readonly KubeScoreCheck[];
}

const critical = 1;
const ignoreAnnotation = 'kube-score/ignore';

async function kubeScore(binary: string, layer: string, objects: KubernetesObject[]): Promise<KubeScoreObject[]> {
  const dir = await mkdtemp(join(tmpdir(), `tracelab-kube-score-${layer}-`));
  try {
    const files = await writeRendered(layer, objects, dir);
    // kube-score exits 1 when it finds a CRITICAL: the JSON on stdout is the result either way.
    const run = await promisify(execFile)(binary, ['score', '--output-format', 'json', ...files], { maxBuffer: 64 * 2 ** 20 }).catch(
      (err: unknown) => err as { stdout?: string; stderr?: string },
    );
    assert.ok(run.stdout !== undefined && run.stdout.startsWith('['), `kube-score printed no JSON: ${run.stderr ?? ''}`);
    return JSON.parse(run.stdout) as KubeScoreObject[];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `[CRITICAL] Deployment/apps/v1/jaeger/jaeger container-image-pull-policy: (jaeger) ImagePullPolicy is not set to Always` */
function criticalLines(result: readonly KubeScoreObject[]): string[] {
  return result.flatMap((object) =>
    object.checks
      .filter((check) => check.grade === critical && !check.skipped)
      .map((check) => {
        const comments = (check.comments ?? []).map((comment) => (comment.path === undefined || comment.path === '' ? comment.summary : `(${comment.path}) ${comment.summary}`));
        return `[CRITICAL] ${object.object_name} ${check.check.id}: ${comments.join('; ')}`;
      }),
  );
}

function ignoredChecks(objects: readonly KubernetesObject[]): { object: string; check: string }[] {
  return objects.flatMap((object) =>
    (object.metadata?.annotations?.[ignoreAnnotation] ?? '')
      .split(',')
      .map((check) => check.trim())
      .filter((check) => check !== '')
      .map((check) => ({ object: `${object.kind ?? ''} ${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`, check })),
  );
}

/** Layers that prepare their render (the mesh, with istioctl) find their tools in the component cache. */
function prepareContext(): PrepareContext {
  return { componentCache: cacheDir(), searchPath: '', output: createRecordingOutput() };
}

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

describe('kube-score over every rendered layer', () => {
  for (const layer of layers) {
    const optionSets = [{ ...footprintLayerOptions[layer.name] }, ...(variants[layer.name] ?? []).map((extra) => ({ ...footprintLayerOptions[layer.name], ...extra }))];
    for (const raw of optionSets) {
      const flags = Object.entries(raw).filter(([key]) => key !== 'images').map(([key, value]) => `--${key} ${value}`).join(' ');
      it(`${layer.name}${flags === '' ? '' : ` (${flags})`}: no CRITICAL left`, async (t) => {
        const reason = notYetChecked[layer.name];
        if (reason !== undefined) {
          t.skip(`not checked yet: ${reason}`);
          return;
        }
        const binary = requireComponent(t, 'kube-score');
        if (binary === undefined || (layer.prepare !== undefined && requireComponent(t, 'istioctl') === undefined)) return;
        const objects = layer.render(await preparedOptions(layer, raw, prepareContext()));
        const result = await kubeScore(binary, layer.name, objects);
        assert.ok(result.length > 0, 'kube-score scored no object');
        const lines = criticalLines(result);
        assert.deepEqual(lines, [], `kube-score CRITICAL in the ${layer.name} render — fix the render, or ignore the check on that object and justify it in the README:\n${lines.join('\n')}`);
      });
    }

    it(`${layer.name}: every kube-score/ignore is justified in the README`, async (t) => {
      if (layer.prepare !== undefined && requireComponent(t, 'istioctl') === undefined) return;
      const objects = layer.render(await preparedOptions(layer, footprintLayerOptions[layer.name] ?? {}, prepareContext()));
      const unjustified = ignoredChecks(objects).filter(({ check }) => !readme.split('\n').some((line) => line.startsWith(`| \`${check}\``)));
      assert.deepEqual(unjustified, [], 'each ignored check needs a row `| `check-id` | object | why |` in the README table');
    });
  }
});

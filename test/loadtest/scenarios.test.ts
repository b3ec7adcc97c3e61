import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderDashboard } from '../../monitoring/grafana-dashboards.ts';
import { parseDemoOptions } from '../../demo/options.ts';
import { renderDeployment, renderHorizontalPodAutoscaler } from '../../demo/render.ts';
import { loadDashboards } from '../../loadtest/links.ts';
import { findScenario } from '../../loadtest/options.ts';
import { planSteps } from '../../loadtest/runners/node.ts';
import { loadSeconds, plannedRequests, scenarioProblems, type Scenario } from '../../loadtest/scenario.ts';
import { ramp } from '../../loadtest/scenarios/ramp.ts';
import { scenarios } from '../../loadtest/scenarios/index.ts';
import { smoke } from '../../loadtest/scenarios/smoke.ts';
import { UserError } from '../../core/errors.ts';

describe('the scenarios', () => {
  it('are smoke, ramp, spike and soak, each valid, each named like its file', () => {
    assert.deepEqual(scenarios.map((s) => s.name), ['smoke', 'ramp', 'spike', 'soak']);
    for (const scenario of scenarios) assert.deepEqual(scenarioProblems(scenario), [], scenario.name);
  });

  it('findScenario() names the ones there are for an unknown name (bad input, exit 2)', () => {
    assert.equal(findScenario('ramp'), ramp);
    assert.throws(() => findScenario('stress'), (err: unknown) => err instanceof UserError && err.exitCode === 2 && err.message === "unknown scenario 'stress' — tracelab loadtest runs smoke, ramp, spike, soak");
  });

  it("ramp drives backend's autoscaler above its minimum: its CPU at the plateau is well past the target of the minimum replicas", () => {
    const demo = parseDemoOptions({ images: 'frontend=r.invalid/f:1,backend=r.invalid/b:1' });
    const hpa = renderHorizontalPodAutoscaler('backend', demo);
    const requestMillicores = Number.parseInt(renderDeployment('backend', demo).spec?.template.spec?.containers[0]?.resources?.requests?.cpu ?? '', 10);
    const target = hpa.spec.metrics?.[0]?.resource?.target.averageUtilization ?? 0;
    const plateau = Math.max(...ramp.stages.map((stage) => stage.rate));
    const cpuMsPerRequest = Number(ramp.headers['x-tracelab-cpu-ms']);
    // CPU the plateau burns (millicores) against what the minimum replicas may use at the target.
    const demand = plateau * cpuMsPerRequest;
    const atTarget = (hpa.spec.minReplicas ?? 1) * requestMillicores * (target / 100);
    assert.ok(demand > 2 * atTarget, `${String(demand)}m against ${String(atTarget)}m`);
    // ...and the demo's lab scale-down window leaves time within the settle phase to come back down.
    const window = hpa.spec.behavior?.scaleDown?.stabilizationWindowSeconds ?? 300;
    assert.equal(window, 60);
    assert.ok(ramp.settleSeconds >= window + 120, 'settle covers the window, the metrics lag and the steps down');
  });

  it('the dashboards the links open are the ones the monitoring layer provisions', () => {
    assert.equal(renderDashboard('autoscaling').uid, loadDashboards.autoscaling);
    assert.equal(renderDashboard('services').uid, loadDashboards.services);
  });
});

describe('scenarioProblems()', () => {
  const bad: [string, Partial<Scenario>, RegExp][] = [
    ['a name no Job can carry', { name: 'Ramp Up' }, /^name 'Ramp Up' must be lowercase/],
    ['no stages', { stages: [] }, /^stages is empty/],
    ['a fractional stage', { stages: [{ seconds: 1.5, rate: 3 }] }, /^stage 1: seconds 1\.5 must be a whole number/],
    ['a negative rate', { stages: [{ seconds: 5, rate: -1 }] }, /^stage 1: rate -1 must be a whole number/],
    ['nothing sent at all', { startRate: 0, stages: [{ seconds: 5, rate: 0 }] }, /^every stage has rate 0/],
    ['an error rate above 1', { thresholds: { maxErrorRate: 2, latencyMs: {} } }, /^thresholds\.maxErrorRate 2 must be a share from 0 to 1$/],
    ['an unknown percentile', { thresholds: { maxErrorRate: 0, latencyMs: { p75: 100 } as never } }, /^thresholds\.latencyMs\.p75 is not one of p50, p90, p95, p99$/],
    ['a zero latency limit', { thresholds: { maxErrorRate: 0, latencyMs: { p95: 0 } } }, /^thresholds\.latencyMs\.p95 0 must be a number of milliseconds above 0$/],
    ['no concurrency', { maxConcurrency: 0 }, /^maxConcurrency 0 must be a whole number from 1 to 1000$/],
    ['a header name with capitals', { headers: { 'X-Cpu': '1' } }, /^header 'X-Cpu' must be a lowercase header name$/],
    ['a path without its slash', { path: 'api/hello' }, /^path 'api\/hello' must start with '\/'$/],
    ['a settle phase of hours', { settleSeconds: 7200 }, /^settleSeconds 7200 must be a whole number from 0 to 1800$/],
  ];
  for (const [what, change, problem] of bad) {
    it(`names ${what}`, () => {
      const problems = scenarioProblems({ ...smoke, ...change });
      assert.equal(problems.length, 1, problems.join('; '));
      assert.match(problems[0] ?? '', problem);
    });
  }
});

describe('loadSeconds(), plannedRequests() and the node runner steps', () => {
  it('counts the area under the rate line', () => {
    assert.equal(loadSeconds(ramp), 110);
    assert.equal(plannedRequests(ramp), ((1 + 8) / 2) * 30 + 8 * 60 + ((8 + 1) / 2) * 20);
    assert.equal(plannedRequests(smoke), 50);
  });

  it('a constant stage is one step; a ramp is a staircase at the line’s mean, as long and about as many requests', () => {
    assert.deepEqual(planSteps(smoke), [{ seconds: 10, rate: 5 }]);
    const steps = planSteps(ramp);
    assert.deepEqual(steps.slice(0, 7), [
      { seconds: 5, rate: 2 },
      { seconds: 5, rate: 3 },
      { seconds: 5, rate: 4 },
      { seconds: 5, rate: 5 },
      { seconds: 5, rate: 6 },
      { seconds: 5, rate: 7 },
      { seconds: 60, rate: 8 }, // the plateau
    ]);
    for (const scenario of scenarios) {
      const planned = planSteps(scenario);
      assert.equal(planned.reduce((sum, step) => sum + step.seconds, 0), loadSeconds(scenario), scenario.name);
      const requests = planned.reduce((sum, step) => sum + step.rate * step.seconds, 0);
      assert.ok(Math.abs(requests - plannedRequests(scenario)) <= 0.05 * plannedRequests(scenario), `${scenario.name}: ${String(requests)} vs ${String(plannedRequests(scenario))}`);
    }
  });

  it('a stage shorter than a step is one step of its own length', () => {
    assert.deepEqual(planSteps({ ...smoke, startRate: 0, stages: [{ seconds: 3, rate: 6 }] }), [{ seconds: 3, rate: 3 }]);
  });
});

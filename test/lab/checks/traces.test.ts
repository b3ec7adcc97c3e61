import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chainProblem, shapeOf, type JaegerTrace } from '../../../lab/checks/traces.ts';

/** A trace from [span id, service, parent id] rows, as Jaeger's query API shapes it. */
function trace(rows: [string, 'frontend' | 'backend' | 'istio-ingressgateway', string | undefined][], tags: Record<string, { key: string; value: unknown }[]> = {}): JaegerTrace {
  return {
    traceID: 't',
    spans: rows.map(([id, service, parent]) => ({
      spanID: id,
      operationName: `op-${id}`,
      references: parent === undefined ? [] : [{ refType: 'CHILD_OF', spanID: parent }],
      tags: tags[id] ?? [],
      processID: service,
    })),
    processes: { frontend: { serviceName: 'frontend' }, backend: { serviceName: 'backend' }, 'istio-ingressgateway': { serviceName: 'istio-ingressgateway' } },
  };
}

describe('chainProblem()', () => {
  it('accepts one chain frontend → backend, the mesh ingress above it included', () => {
    assert.equal(chainProblem(trace([['a', 'frontend', undefined], ['b', 'frontend', 'a'], ['c', 'backend', 'b'], ['d', 'backend', 'c']])), undefined);
    assert.equal(chainProblem(trace([['g', 'istio-ingressgateway', undefined], ['a', 'frontend', 'g'], ['c', 'backend', 'a']])), undefined);
  });

  const cases: [string, JaegerTrace, RegExp][] = [
    ['no backend span', trace([['a', 'frontend', undefined], ['b', 'frontend', 'a']]), /^no backend span \(the trace has 2 spans of frontend\)$/],
    ['no frontend span', trace([['c', 'backend', undefined]]), /^no frontend span/],
    ['two roots (backend did not get traceparent)', trace([['a', 'frontend', undefined], ['c', 'backend', undefined]]), /^not one parent chain: 2 spans have no parent in the trace \(frontend "op-a", backend "op-c"\) — a span was lost or a hop did not propagate traceparent$/],
    ['a lost span in the middle', trace([['a', 'frontend', undefined], ['c', 'backend', 'lost']]), /^not one parent chain: 2 spans/],
    ['backend above frontend', trace([['c', 'backend', undefined], ['a', 'frontend', 'c'], ['d', 'backend', 'c']]), /^backend's span "op-c" does not descend from a frontend span$/],
  ];
  for (const [name, input, expected] of cases) {
    it(`names the problem: ${name}`, () => {
      assert.match(chainProblem(input) ?? 'accepted', expected);
    });
  }
});

describe('shapeOf()', () => {
  it("counts Envoy's spans by Istio's tags", () => {
    const t = trace([['g', 'istio-ingressgateway', undefined], ['a', 'frontend', 'g'], ['c', 'backend', 'a']], { g: [{ key: 'istio.canonical_service', value: 'istio-ingressgateway' }] });
    assert.deepEqual(shapeOf(t), { spans: 3, services: ['backend', 'frontend', 'istio-ingressgateway'], proxySpans: 1 });
  });
});

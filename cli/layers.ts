import type { Layer } from '../core/layer.ts';
import { demoLayer } from '../demo/layer.ts';
import { monitoringLayer } from '../monitoring/layer.ts';
import { registryLayer } from '../registry/layer.ts';

/** Every layer `tracelab up|teardown|render <layer>` knows; a new layer is one line here. */
export const layers: readonly Layer<unknown>[] = [
  demoLayer, // the instrumented frontend and backend
  monitoringLayer, // Jaeger, Prometheus, Grafana, node-exporter, metrics-server
  registryLayer, // the lab registry in-cluster builds push to
];

import type { Layer } from '../core/layer.ts';
import { buildsLayer } from '../build/layer.ts';
import { demoLayer } from '../demo/layer.ts';
import { headlampLayer } from '../headlamp/layer.ts';
import { meshLayer } from '../mesh/layer.ts';
import { monitoringLayer } from '../monitoring/layer.ts';
import { registryLayer } from '../registry/layer.ts';
import { storageLayer } from '../storage/layer.ts';

/** Every layer `tracelab up|teardown|render <layer>` knows; a new layer is one line here. */
export const layers: readonly Layer<unknown>[] = [
  demoLayer, // the instrumented frontend and backend
  monitoringLayer, // Jaeger, Prometheus, Grafana, node-exporter, metrics-server
  storageLayer, // volumes on the nodes' disks as the default StorageClass (before the registry, whose claim uses it)
  registryLayer, // the lab registry in-cluster builds push to
  buildsLayer, // the namespace in-cluster builds run in
  meshLayer, // Istio, tracing to the monitoring layer's Jaeger; the demo's namespace is labelled for injection
  headlampLayer, // Headlamp, the Kubernetes web UI (`tracelab ui --headlamp`)
];

/**
 * OpenTelemetry preload: `node --import @tracelab/service-kit/telemetry src/server.ts`.
 *
 * Runs before any service code, so route code never touches the SDK. The exporter endpoint,
 * protocol, sampler, propagators and batch limits come only from `OTEL_*` env; this file only
 * picks the instrumentations and the resource. `OTEL_SDK_DISABLED=true` patches nothing.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { register as registerImportHooks } from 'import-in-the-middle/register-hooks.mjs';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { hostDetector, resourceAttributesEnvDetector, resourceFromAttributes, serviceNameEnvDetector } from '@opentelemetry/resources';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { probePaths } from './probes.ts';
import { setTelemetry } from './telemetry-handle.ts';
import type { Telemetry } from './telemetry-handle.ts';

interface ServicePackage {
  name: string;
  version: string;
}

/** The package.json nearest to the entry script names the service when OTEL_SERVICE_NAME does not. */
function entryPackage(): ServicePackage {
  let dir = dirname(process.argv[1] ?? join(process.cwd(), 'x'));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Partial<ServicePackage>;
      return { name: (pkg.name ?? 'unknown').replace(/^@[^/]+\//, ''), version: pkg.version ?? '0.0.0' };
    } catch {
      const parent = dirname(dir);
      if (parent === dir) return { name: 'unknown', version: '0.0.0' };
      dir = parent;
    }
  }
}

function isProbe(request: IncomingMessage): boolean {
  const path = request.url?.split('?', 1)[0] ?? '';
  return probePaths.has(path);
}

function startTelemetry(): Telemetry {
  // Our metrics are Prometheus-scraped (prom-client) and logs go to stdout: the SDK exports traces only.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  // Emit only the stable HTTP semantic conventions (http.request.method, http.response.status_code…),
  // not both old and new attribute sets.
  process.env.OTEL_SEMCONV_STABILITY_OPT_IN ??= 'http';

  // ESM imports of express only reach the instrumentation through this loader hook; limit it to
  // the one package we patch so the other modules load untouched.
  registerImportHooks({ include: ['express'] });

  const service = entryPackage();
  const resourceAttributes: Record<string, string> = {
    'service.name': service.name,
    'service.version': service.version,
    'service.namespace': 'tracelab',
  };
  const downward = { 'k8s.pod.name': 'POD_NAME', 'k8s.namespace.name': 'POD_NAMESPACE', 'k8s.node.name': 'NODE_NAME' };
  for (const [attribute, variable] of Object.entries(downward)) {
    const value = process.env[variable];
    if (value) resourceAttributes[attribute] = value;
  }
  if (process.env.POD_NAME) resourceAttributes['service.instance.id'] = process.env.POD_NAME;

  const sdk = new NodeSDK({
    resource: resourceFromAttributes(resourceAttributes),
    // env last: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the defaults above.
    resourceDetectors: [hostDetector, resourceAttributesEnvDetector, serviceNameEnvDetector],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: isProbe,
        // The services call out through undici only; the exporter's own requests need no spans.
        disableOutgoingRequestInstrumentation: true,
      }),
      // No spans per middleware/handler: the server span gets its http.route and name from express.
      new ExpressInstrumentation({
        ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER, ExpressLayerType.REQUEST_HANDLER],
      }),
      new UndiciInstrumentation(),
    ],
  });
  sdk.start();

  let stopping: Promise<void> | undefined;
  return {
    enabled: true,
    shutdown: () => (stopping ??= sdk.shutdown()),
  };
}

const disabled = process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
if (!disabled) setTelemetry(startTelemetry());

/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import type { KubernetesObject } from '@kubernetes/client-node';
import { servicePort } from '../demo/render.ts';
import { faultAnnotation, faults, type FaultPreset } from './faults.ts';
import { demoHost, ingressGateway, meshNamespaces } from './names.ts';

type IstioObject = KubernetesObject & { spec: unknown };

/** The port the gateway's Envoy listens on inside its pod (unprivileged); the NodePort Service maps to it. */
export const gatewayListenPort = 8080;

/** The ingress: Istio's gateway on the NodePort, every path to frontend. */
export function renderIngress(demoNamespace: string): IstioObject[] {
  return [
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: { name: 'frontend', namespace: meshNamespaces.root },
      spec: { selector: ingressGateway.selector, servers: [{ port: { number: gatewayListenPort, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'frontend-ingress', namespace: meshNamespaces.root },
      spec: {
        hosts: ['*'],
        gateways: [`${meshNamespaces.root}/frontend`],
        http: [{ route: [{ destination: { host: demoHost('frontend', demoNamespace), port: { number: servicePort } } }] }],
      },
    },
  ];
}

/**
 * Calls to backend: a bounded connection pool and outlier detection (a pod answering 5xx five
 * times in a row is ejected for 30 s), a 3 s timeout and two retries on connection failures only —
 * not on 5xx, so the demo's injected errors and the abort preset stay visible.
 */
export function renderBackendTraffic(demoNamespace: string, fault: FaultPreset): IstioObject[] {
  const host = demoHost('backend', demoNamespace);
  const injected = faults[fault].fault;
  return [
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'backend', namespace: meshNamespaces.root },
      spec: {
        host,
        trafficPolicy: {
          connectionPool: { tcp: { maxConnections: 100, connectTimeout: '1s' }, http: { http1MaxPendingRequests: 100, maxRequestsPerConnection: 100 } },
          outlierDetection: { consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 50 },
        },
      },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'backend', namespace: meshNamespaces.root, annotations: { [faultAnnotation]: fault } },
      spec: {
        hosts: [host],
        http: [
          {
            ...(injected === undefined ? {} : { fault: injected }),
            route: [{ destination: { host, port: { number: servicePort } } }],
            timeout: '3s',
            retries: { attempts: 2, perTryTimeout: '1s', retryOn: 'connect-failure,refused-stream,reset' },
          },
        ],
      },
    },
  ];
}

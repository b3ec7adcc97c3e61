/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node models are classes without behaviour; manifests are plain objects typed by them. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { $ } from 'zx';
import { buildHint, cacheDir, componentPath, freePorts, isBuilt, StopWaiting, waitFor, type ComponentBinary } from './components.ts';
import { createControlPlanePki, type CertFiles, type ControlPlanePki } from './pki.ts';
import { isRunning, startProcess, stopRecorded, type ManagedProcess, type ProcessRecord } from './processes.ts';

const GENERATOR = 'testenv/controlplane.ts';
const PIDS_FILE = 'pids.json';
/** Nodes carrying this annotation are the ones the kwok controller plays the kubelet for. */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/**
 * SIGTERM grace before SIGKILL. The store is thrown away after a stop, so a slow graceful exit
 * (kube-apiserver drains open connections for up to ~20 s) buys nothing.
 */
const STOP_GRACE_MS = 3_000;

/** The binaries startControlPlane() runs; tests that need a control plane require exactly these. */
export const controlPlaneBinaries: readonly ComponentBinary[] = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok', 'kubectl'];

export interface ControlPlaneOptions {
  /** Fake kwok nodes to register. @default 1 */
  nodes?: number;
  /** Working directory (PKI, kubeconfigs, etcd data, logs, pids.json). @default a new temp dir */
  dir?: string;
  /** Keep the processes running after this Node process exits (for the CLI). @default false */
  detached?: boolean;
  /** How long `up` may take before it gives up and says what is missing. @default 90000 */
  deadlineMs?: number;
  /** Progress lines ("starting etcd", …). */
  onStatus?: (message: string) => void;
}

export interface ControlPlane {
  readonly dir: string;
  /** Admin kubeconfig (client certificate in system:masters). */
  readonly kubeconfig: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** A KubeConfig loaded from `kubeconfig`. */
  kubeConfig(): KubeConfig;
  /** Run the cached kubectl against this control plane; resolves to stdout, rejects on non-zero exit. */
  kubectl(args: readonly string[], options?: { input?: string }): Promise<string>;
  /** The processes currently started (what pids.json records). */
  processes(): ProcessRecord[];
  /**
   * Stop kube-apiserver only (etcd, controllers and kwok keep running). It stops listening at
   * once on SIGTERM but lingers while the controllers' connections drain (~20 s), so it gets
   * SIGKILL after 2 s.
   */
  stopApiserver(): Promise<void>;
  /** Start kube-apiserver again on the same port against the same etcd and wait for /readyz. */
  startApiserver(): Promise<void>;
  /** Stop every process it started, by pid, then remove `dir`. */
  stop(): Promise<void>;
}

interface PidsFile {
  generator: string;
  server: string;
  processes: ProcessRecord[];
}

interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
  kwok: number;
}

/** Start etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on loopback. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const missing = controlPlaneBinaries.filter((b) => !isBuilt(b));
  if (missing.length > 0) throw new Error(`cannot start the control plane: ${missing.join(', ')} not built: run ${buildHint(missing)}`);
  const stagesFile = path.join(cacheDir(), 'share', 'kwok', 'stages.yaml');
  if (!existsSync(stagesFile)) throw new Error(`cannot start the control plane: ${stagesFile} is missing: run ${buildHint(['kwok'])}`);

  const nodeCount = options.nodes ?? 1;
  const deadlineMs = options.deadlineMs ?? 90_000;
  const status = options.onStatus ?? ((): void => undefined);
  const dir = path.resolve(options.dir ?? mkdtempSync(path.join(tmpdir(), 'tracelab-controlplane-')));
  prepareDir(dir);
  mkdirSync(path.join(dir, 'logs'), { recursive: true });

  const [etcdClient, etcdPeer, apiserverPort, controllerManager, scheduler, kwok] = (await freePorts(6)) as [number, number, number, number, number, number];
  const ports: Ports = { etcdClient, etcdPeer, apiserver: apiserverPort, controllerManager, scheduler, kwok };
  const server = `https://127.0.0.1:${ports.apiserver}`;

  status('creating certificates and kubeconfigs');
  const pki = await createControlPlanePki(path.join(dir, 'pki'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, server, pki.ca.cert, pki.admin, 'kubernetes-admin');
  const controllerManagerKubeconfig = path.join(dir, 'controller-manager.kubeconfig');
  writeKubeconfig(controllerManagerKubeconfig, server, pki.ca.cert, pki.controllerManager, 'system:kube-controller-manager');
  const schedulerKubeconfig = path.join(dir, 'scheduler.kubeconfig');
  writeKubeconfig(schedulerKubeconfig, server, pki.ca.cert, pki.scheduler, 'system:kube-scheduler');

  const running = new Map<string, ManagedProcess>();
  const writePids = (): void => {
    const pids: PidsFile = { generator: GENERATOR, server, processes: [...running.values()].map((p) => p.record()) };
    writeFileSync(path.join(dir, PIDS_FILE), `${JSON.stringify(pids, null, 2)}\n`);
  };
  const start = (name: ComponentBinary, args: string[]): ManagedProcess => {
    const proc = startProcess({
      name,
      command: componentPath(name),
      args,
      logFile: path.join(dir, 'logs', `${name}.log`),
      detached: options.detached ?? false,
      cwd: dir,
    });
    running.set(name, proc);
    writePids();
    return proc;
  };
  /** A reason to stop waiting: a started process has exited. */
  const crashed = (): string | undefined => {
    for (const p of running.values()) {
      const exit = p.exitStatus();
      if (exit !== undefined) return `${p.name} ${exit}; last lines of ${p.logFile}:\n${p.logTail(15)}`;
    }
    return undefined;
  };
  const stopAll = async (): Promise<void> => {
    for (const name of ['kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd']) {
      const p = running.get(name);
      if (p === undefined) continue;
      await p.stop(STOP_GRACE_MS);
      running.delete(name);
      writePids();
    }
  };

  const apiserverArgs = renderApiserverArgs(dir, pki, ports);
  const tls = { ca: readFileSync(pki.ca.cert), cert: readFileSync(pki.admin.cert), key: readFileSync(pki.admin.key) };
  const waitForApiserver = async (within: number): Promise<void> => {
    await waitFor('kube-apiserver /readyz', async () => {
      const reason = crashed();
      if (reason !== undefined) throw new StopWaiting(reason);
      const res = await httpsGet(`${server}/readyz`, tls);
      if (res.status === 200) return true;
      throw new Error(`HTTP ${res.status}: ${res.body.split('\n').filter((l) => l.includes('[-]')).join(', ').slice(0, 300)}`);
    }, { deadlineMs: within, intervalMs: 200 });
  };

  const deadline = Date.now() + deadlineMs;
  const remaining = (): number => Math.max(1_000, deadline - Date.now());
  const nodeNames = Array.from({ length: nodeCount }, (_, i) => `kwok-node-${i}`);
  try {
    status('starting etcd');
    start('etcd', renderEtcdArgs(dir, ports));
    await waitFor('etcd /health', async () => {
      const reason = crashed();
      if (reason !== undefined) throw new StopWaiting(reason);
      const res = await fetch(`http://127.0.0.1:${ports.etcdClient}/health`);
      const body = (await res.json()) as { health?: string };
      return body.health === 'true' ? true : undefined;
    }, { deadlineMs: remaining(), intervalMs: 100 });

    status('starting kube-apiserver');
    start('kube-apiserver', apiserverArgs);
    await waitForApiserver(remaining());

    status('starting kube-controller-manager, kube-scheduler and kwok');
    start('kube-controller-manager', renderControllerManagerArgs(dir, pki, ports, controllerManagerKubeconfig));
    start('kube-scheduler', renderSchedulerArgs(dir, ports, schedulerKubeconfig));
    start('kwok', renderKwokArgs(pki, ports, kubeconfig, stagesFile));

    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    status(`registering ${nodeCount} kwok node(s)`);
    for (const name of nodeNames) await core.createNode({ body: renderKwokNode(name) });

    status('waiting for nodes Ready, controllers and scheduler healthy');
    let nodeStatus = '';
    await Promise.all([
      waitFor(`${nodeCount} kwok node(s) Ready`, async () => {
        const reason = crashed();
        if (reason !== undefined) throw new StopWaiting(reason);
        const nodes = (await core.listNode()).items;
        const notReady = nodeNames.filter((n) => !isNodeReady(nodes.find((node) => node.metadata?.name === n)));
        nodeStatus = `not Ready yet: ${notReady.join(', ')}`;
        return notReady.length === 0 ? true : undefined;
      }, { deadlineMs: remaining(), status: () => nodeStatus }),
      waitFor('kube-controller-manager /healthz', async () => {
        const res = await httpsGet(`https://127.0.0.1:${ports.controllerManager}/healthz`, { insecure: true });
        return res.status === 200 ? true : undefined;
      }, { deadlineMs: remaining() }),
      waitFor('kube-scheduler /healthz', async () => {
        const res = await httpsGet(`https://127.0.0.1:${ports.scheduler}/healthz`, { insecure: true });
        return res.status === 200 ? true : undefined;
      }, { deadlineMs: remaining() }),
      // Pods need their namespace's ServiceAccount; its creation shows the controllers run.
      waitFor('ServiceAccount default/default (created by kube-controller-manager)', async () => {
        await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
        return true;
      }, { deadlineMs: remaining() }),
    ]);
  } catch (err) {
    await stopAll();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`failed to start the local control plane in ${dir}: ${reason}\nlogs: ${path.join(dir, 'logs')}`, { cause: err });
  }

  return {
    dir,
    kubeconfig,
    server,
    kubeConfig: () => {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig);
      return kc;
    },
    kubectl: async (args, kubectlOptions = {}) => {
      const sh = $({ quiet: true, ...(kubectlOptions.input === undefined ? {} : { input: kubectlOptions.input }) });
      const out = await sh`${componentPath('kubectl')} --kubeconfig ${kubeconfig} ${args}`;
      return out.stdout;
    },
    processes: () => [...running.values()].map((p) => p.record()),
    stopApiserver: async () => {
      const p = running.get('kube-apiserver');
      if (p === undefined) return;
      await p.stop(2_000);
      running.delete('kube-apiserver');
      writePids();
    },
    startApiserver: async () => {
      if (running.has('kube-apiserver')) throw new Error('kube-apiserver is already running: call stopApiserver() first');
      start('kube-apiserver', apiserverArgs);
      await waitForApiserver(deadlineMs);
    },
    stop: async () => {
      await stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Stop a control plane started by an earlier process (`controlplane-cli down`): ends exactly the
 * processes recorded in <dir>/pids.json, then removes the directory. A directory without our
 * pids.json is left alone.
 */
export async function stopControlPlane(dir: string): Promise<{ stopped: ProcessRecord[] }> {
  const pids = readPids(dir);
  if (pids === undefined) {
    throw new Error(`${dir} holds no control plane (no ${PIDS_FILE} written by ${GENERATOR}): nothing to stop`);
  }
  const stopped: ProcessRecord[] = [];
  for (const record of [...pids.processes].reverse()) {
    if (!isRunning(record)) continue;
    await stopRecorded(record, STOP_GRACE_MS);
    stopped.push(record);
  }
  rmSync(dir, { recursive: true, force: true });
  return { stopped };
}

function readPids(dir: string): PidsFile | undefined {
  try {
    const pids = JSON.parse(readFileSync(path.join(dir, PIDS_FILE), 'utf8')) as Partial<PidsFile>;
    if (pids.generator !== GENERATOR || !Array.isArray(pids.processes)) return undefined;
    return pids as PidsFile;
  } catch {
    return undefined;
  }
}

/**
 * An empty or new directory is used as is. A stopped control plane's leftovers (our pids.json,
 * nothing running) are cleared, so no stale etcd data meets a new PKI. Anything else is refused.
 */
function prepareDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  if (readdirSync(dir).length === 0) return;
  const pids = readPids(dir);
  if (pids === undefined) {
    throw new Error(`${dir} is not empty and holds no control plane: choose an empty or new directory`);
  }
  const alive = pids.processes.filter(isRunning);
  if (alive.length > 0) {
    throw new Error(`a control plane is already running in ${dir} (${alive.map((p) => `${p.name} pid ${p.pid}`).join(', ')}): stop it first (controlplane-cli down --dir ${dir})`);
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

function isNodeReady(node: V1Node | undefined): boolean {
  return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function writeKubeconfig(file: string, server: string, caFile: string, client: CertFiles, user: string): void {
  const b64 = (f: string): string => readFileSync(f).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'tracelab-testenv', cluster: { server, 'certificate-authority-data': b64(caFile) } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(client.cert), 'client-key-data': b64(client.key) } }],
    contexts: [{ name: 'tracelab-testenv', context: { cluster: 'tracelab-testenv', user } }],
    'current-context': 'tracelab-testenv',
  };
  writeFileSync(file, `# generated by ${GENERATOR}\n${stringify(config)}`, { mode: 0o600 });
}

function renderEtcdArgs(dir: string, ports: Ports): string[] {
  const client = `http://127.0.0.1:${ports.etcdClient}`;
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  return [
    '--name=testenv',
    `--data-dir=${path.join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=testenv=${peer}`,
    // a throwaway test store: durability is not worth the fsync latency
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

function renderApiserverArgs(dir: string, pki: ControlPlanePki, ports: Ports): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${ports.apiserver}`,
    `--cert-dir=${path.join(dir, 'apiserver')}`,
    `--tls-cert-file=${pki.apiserver.cert}`,
    `--tls-private-key-file=${pki.apiserver.key}`,
    `--client-ca-file=${pki.ca.cert}`,
    '--authorization-mode=Node,RBAC',
    // PodSecurity and the other defaults stay on; NodeRestriction as kubeadm enables it
    '--enable-admission-plugins=NodeRestriction',
    '--allow-privileged=true',
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${pki.serviceAccount.publicKey}`,
    `--service-account-signing-key-file=${pki.serviceAccount.privateKey}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    `--kubelet-client-certificate=${pki.admin.cert}`,
    `--kubelet-client-key=${pki.admin.key}`,
    '--kubelet-preferred-address-types=InternalIP',
    // the "kubernetes" Endpoints may not hold a loopback address: nothing in-cluster dials it here
    '--endpoint-reconciler-type=none',
    '--profiling=false',
  ];
}

function renderControllerManagerArgs(dir: string, pki: ControlPlanePki, ports: Ports, kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.controllerManager}`,
    `--cert-dir=${path.join(dir, 'controller-manager')}`,
    '--leader-elect=false',
    // each controller acts as its own ServiceAccount with its bootstrap RBAC role, as with kubeadm
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${pki.serviceAccount.privateKey}`,
    `--root-ca-file=${pki.ca.cert}`,
    `--cluster-signing-cert-file=${pki.ca.cert}`,
    `--cluster-signing-key-file=${pki.ca.key}`,
    '--profiling=false',
  ];
}

function renderSchedulerArgs(dir: string, ports: Ports, kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.scheduler}`,
    `--cert-dir=${path.join(dir, 'scheduler')}`,
    '--leader-elect=false',
    '--profiling=false',
  ];
}

function renderKwokArgs(pki: ControlPlanePki, ports: Ports, kubeconfig: string, stagesFile: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--config=${stagesFile}`,
    `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
    '--node-ip=127.0.0.1',
    `--node-port=${ports.kwok}`,
    `--server-address=127.0.0.1:${ports.kwok}`,
    `--tls-cert-file=${pki.kwok.cert}`,
    `--tls-private-key-file=${pki.kwok.key}`,
    '--cidr=10.244.0.0/16',
    '--node-lease-duration-seconds=40',
  ];
}

/** A fake node as kwok's docs register them: labelled like a real one, no taints. */
export function renderKwokNode(name: string): V1Node {
  const resources = { cpu: '32', memory: '256Gi', pods: '110', 'ephemeral-storage': '100Gi' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/role': 'agent',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
      },
    },
    status: {
      allocatable: resources,
      capacity: resources,
      nodeInfo: {
        architecture: 'amd64',
        bootID: '',
        containerRuntimeVersion: 'kwok',
        kernelVersion: '',
        kubeProxyVersion: 'fake',
        kubeletVersion: 'fake',
        machineID: '',
        operatingSystem: 'linux',
        osImage: '',
        systemUUID: '',
      },
      phase: 'Running',
    },
  };
}

interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Loopback components with self-signed serving certificates. */
  insecure?: boolean;
}

function httpsGet(url: string, tls: TlsOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'GET',
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      rejectUnauthorized: tls.insecure !== true,
      timeout: 5_000,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }); });
      res.on('error', reject);
    });
    req.on('timeout', () => { req.destroy(new Error(`GET ${url} timed out`)); });
    req.on('error', reject);
    req.end();
  });
}

import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';

/** A certificate and its key, as files. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

export interface ControlPlanePki {
  readonly dir: string;
  readonly ca: CertFiles;
  /** kube-apiserver serving certificate (127.0.0.1, localhost, kubernetes.default.svc…). */
  readonly apiserver: CertFiles;
  /** CN=kubernetes-admin, O=system:masters */
  readonly admin: CertFiles;
  /** CN=system:kube-controller-manager */
  readonly controllerManager: CertFiles;
  /** CN=system:kube-scheduler */
  readonly scheduler: CertFiles;
  /** The kwok controller's serving certificate (its fake kubelet endpoint on 127.0.0.1). */
  readonly kwok: CertFiles;
  /** The ServiceAccount token signing key pair. */
  readonly serviceAccount: { readonly privateKey: string; readonly publicKey: string };
}

interface LeafSpec {
  name: string;
  subject: string;
  usage: 'clientAuth' | 'serverAuth';
  altNames?: string[];
}

/**
 * A throwaway PKI for a local control plane: one CA (ECDSA P-256, 10 years) and the leaf
 * certificates the components use. openssl does the X.509 work (node:crypto cannot issue).
 */
export async function createControlPlanePki(dir: string): Promise<ControlPlanePki> {
  mkdirSync(dir, { recursive: true });
  const sh = $({ quiet: true, cwd: dir });
  const ca: CertFiles = { cert: path.join(dir, 'ca.crt'), key: path.join(dir, 'ca.key') };
  await sh`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -subj /CN=tracelab-testenv-ca -keyout ${ca.key} -out ${ca.cert} -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature`;

  const issue = async (spec: LeafSpec): Promise<CertFiles> => {
    const files: CertFiles = { cert: path.join(dir, `${spec.name}.crt`), key: path.join(dir, `${spec.name}.key`) };
    const ext = [
      '-addext', 'basicConstraints=critical,CA:FALSE',
      '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
      '-addext', `extendedKeyUsage=${spec.usage}`,
    ];
    if (spec.altNames !== undefined) ext.push('-addext', `subjectAltName=${spec.altNames.join(',')}`);
    await sh`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -subj ${spec.subject} -CA ${ca.cert} -CAkey ${ca.key} -keyout ${files.key} -out ${files.cert} ${ext}`;
    return files;
  };

  const serverNames = [
    'IP:127.0.0.1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local', 'IP:10.96.0.1',
  ];
  const [apiserver, admin, controllerManager, scheduler, kwok] = await Promise.all([
    issue({ name: 'apiserver', subject: '/CN=kube-apiserver', usage: 'serverAuth', altNames: serverNames }),
    issue({ name: 'admin', subject: '/O=system:masters/CN=kubernetes-admin', usage: 'clientAuth' }),
    issue({ name: 'controller-manager', subject: '/CN=system:kube-controller-manager', usage: 'clientAuth' }),
    issue({ name: 'scheduler', subject: '/CN=system:kube-scheduler', usage: 'clientAuth' }),
    issue({ name: 'kwok', subject: '/CN=kwok-controller', usage: 'serverAuth', altNames: ['IP:127.0.0.1', 'DNS:localhost'] }),
  ]);

  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const serviceAccount = { privateKey: path.join(dir, 'sa.key'), publicKey: path.join(dir, 'sa.pub') };
  writeFileSync(serviceAccount.privateKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(serviceAccount.publicKey, publicKey.export({ type: 'spki', format: 'pem' }));

  return { dir, ca, apiserver, admin, controllerManager, scheduler, kwok, serviceAccount };
}

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';
import { UserError } from '../../../core/errors.ts';
import {
  archOf,
  fetchVerifiedCommand,
  installFromDownloadCommand,
  kubernetesPackagePlan,
  onlineEndpoints,
  packageFamily,
  packagesAtVersion,
  releaseDownloads,
  removePackagesCommands,
  type PinnedDownload,
} from '../../../bootstrap/artifacts/online.ts';
import { localExecutor } from '../../../bootstrap/executors/local.ts';
import { removeOnlineInstallCommands } from '../../../bootstrap/install-online.ts';
import { readVersions } from '../../../bootstrap/versions.ts';

const versions = readVersions();

describe('kubernetesPackagePlan()', () => {
  it('Debian/Ubuntu: the pkgs.k8s.io repository of the pinned minor, the pinned version, held', () => {
    const plan = kubernetesPackagePlan('v1.37.2', 'deb');
    assert.deepEqual(plan.files, [{ path: '/etc/apt/sources.list.d/tracelab-kubernetes.list', content: 'deb [signed-by=/etc/apt/keyrings/tracelab-kubernetes.gpg] https://pkgs.k8s.io/core:/stable:/v1.37/deb/ /\n' }]);
    const commands = plan.commands.map((command) => command.join(' '));
    assert.ok(commands.some((line) => line.includes('https://pkgs.k8s.io/core:/stable:/v1.37/deb/Release.key') && line.includes('gpg --dearmor')));
    const apt = 'env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confold';
    assert.ok(commands.includes(`${apt} install --yes --quiet --allow-change-held-packages kubelet=1.37.2-* kubeadm=1.37.2-* kubectl=1.37.2-*`), commands.join('\n'));
    assert.equal(commands[0], 'apt-get update --quiet', 'the package lists first: a fresh cloud image has none');
    assert.equal(commands.at(-1), 'apt-mark hold kubelet kubeadm kubectl');
    assert.ok(commands.lastIndexOf('apt-get update --quiet') < commands.findIndex((line) => line.includes('kubelet=1.37.2-*')));
  });

  it('RHEL family: a repository that excludes the packages from updates, installed past the exclude at the pinned version', () => {
    const plan = kubernetesPackagePlan('v1.37.2', 'rpm');
    const repo = plan.files[0]?.content ?? '';
    assert.match(repo, /^baseurl=https:\/\/pkgs\.k8s\.io\/core:\/stable:\/v1\.37\/rpm\/$/m);
    assert.match(repo, /^gpgcheck=1$/m);
    assert.match(repo, /^exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni$/m);
    assert.deepEqual(plan.commands, [['dnf', 'install', '--assumeyes', '--disableexcludes=tracelab-kubernetes', 'kubelet-1.37.2', 'kubeadm-1.37.2', 'kubectl-1.37.2']]);
  });

  it('checks the installed versions from the package database’s answer', () => {
    assert.equal(packagesAtVersion('kubelet 1.37.2-1.1\nkubeadm 1.37.2-1.1\nkubectl 1.37.2-1.1\n', 'v1.37.2'), true);
    assert.equal(packagesAtVersion('kubelet 1.37.2\nkubeadm 1.37.2\nkubectl 1.37.2\n', 'v1.37.2'), true);
    assert.equal(packagesAtVersion('kubelet 1.37.2-1.1\nkubeadm 1.37.1-1.1\nkubectl 1.37.2-1.1\n', 'v1.37.2'), false);
    assert.equal(packagesAtVersion('kubelet 1.37.2-1.1\nkubeadm 1.37.2-1.1\n', 'v1.37.2'), false);
    assert.equal(packagesAtVersion('kubelet 1.37.20-1.1\nkubeadm 1.37.2-1.1\nkubectl 1.37.2-1.1\n', 'v1.37.2'), false);
  });

  it('removes only the packages it names, releasing the hold first', () => {
    assert.deepEqual(removePackagesCommands('deb', ['kubelet', 'cri-tools']), [
      ['apt-mark', 'unhold', 'kubelet', 'cri-tools'],
      ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-o', 'DPkg::Lock::Timeout=300', '-o', 'Dpkg::Options::=--force-confold', 'purge', '--yes', '--quiet', 'kubelet', 'cri-tools'],
    ]);
    assert.deepEqual(removePackagesCommands('rpm', []), []);
    assert.deepEqual(removeOnlineInstallCommands({ family: 'rpm', archives: {}, packagesAdded: ['kubeadm'], repositoryFiles: ['/etc/yum.repos.d/tracelab-kubernetes.repo'] }), [
      ['dnf', 'remove', '--assumeyes', 'kubeadm'],
      ['rm', '-rf', '--', '/etc/yum.repos.d/tracelab-kubernetes.repo', '/var/lib/tracelab/downloads'],
    ]);
  });
});

describe('releaseDownloads()', () => {
  it('pins containerd, runc and the CNI plugins to the versions file, by architecture', () => {
    const amd64 = releaseDownloads(versions, 'amd64');
    assert.deepEqual(
      amd64.map((download) => [download.name, download.url, download.sha256]),
      [
        ['containerd', `https://github.com/containerd/containerd/releases/download/${versions.containerd}/containerd-${versions.containerd.slice(1)}-linux-amd64.tar.gz`, versions.releaseSha256['containerd/amd64']],
        ['runc', `https://github.com/opencontainers/runc/releases/download/${versions.runc}/runc.amd64`, versions.releaseSha256['runc/amd64']],
        ['CNI plugins', `https://github.com/containernetworking/plugins/releases/download/${versions.cniPlugins}/cni-plugins-linux-amd64-${versions.cniPlugins}.tgz`, versions.releaseSha256['cni-plugins/amd64']],
      ],
    );
    for (const download of [...amd64, ...releaseDownloads(versions, 'arm64')]) assert.match(download.sha256, /^[0-9a-f]{64}$/, download.url);
    assert.notEqual(releaseDownloads(versions, 'arm64')[0]?.sha256, amd64[0]?.sha256);
  });

  it('refuses an architecture the versions file has no digest for', () => {
    assert.throws(() => releaseDownloads({ ...versions, releaseSha256: {} }, 'amd64'), /no SHA-256 for containerd on amd64 \(CONTAINERD_SHA256_AMD64=…\)/);
  });
});

describe('packageFamily(), archOf()', () => {
  it('knows Debian/Ubuntu and the RHEL family, by ID or ID_LIKE', () => {
    assert.equal(packageFamily({ id: 'ubuntu', versionId: '24.04', idLike: ['debian'] }), 'deb');
    assert.equal(packageFamily({ id: 'rocky', versionId: '9.5', idLike: ['rhel', 'centos', 'fedora'] }), 'rpm');
    assert.throws(
      () => packageFamily({ id: 'alpine', versionId: '3.22', idLike: [] }),
      (err: unknown) => err instanceof UserError && /^alpine 3\.22 has neither apt nor dnf packages from pkgs\.k8s\.io — .*--artifacts DIR$/.test(err.message),
    );
  });

  it('maps uname -m to the release archives’ names', () => {
    assert.equal(archOf('x86_64'), 'amd64');
    assert.equal(archOf('aarch64'), 'arm64');
    assert.throws(() => archOf('riscv64'), (err: unknown) => err instanceof UserError && /^riscv64 hosts are not supported/.test(err.message));
  });

  it('checks the package repository, the release downloads and the image registry before changing anything', () => {
    assert.deepEqual(onlineEndpoints('v1.37.2', 'deb'), ['https://pkgs.k8s.io/core:/stable:/v1.37/deb/Release.key', 'https://github.com/containerd/containerd/releases', 'https://registry.k8s.io/v2/']);
  });
});

describe('fetchVerifiedCommand() and installFromDownloadCommand() on this machine, from a loopback server', () => {
  let dir = '';
  let server: Server;
  let base = '';
  const requests: string[] = [];
  const files = new Map<string, Buffer>();
  const executor = localExecutor('this-machine');
  const sha256 = (content: Buffer): string => createHash('sha256').update(content).digest('hex');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tracelab-online-'));
    // An archive laid out like containerd's release: bin/<program>.
    await mkdir(join(dir, 'src/bin'), { recursive: true });
    await writeFile(join(dir, 'src/bin/containerd'), '#!/bin/sh\necho containerd\n');
    await writeFile(join(dir, 'src/bin/ctr'), '#!/bin/sh\necho ctr\n');
    await writeFile(join(dir, 'src/bin/containerd-stress'), 'not wanted\n');
    await $`tar -czf ${join(dir, 'containerd.tar.gz')} -C ${join(dir, 'src')} bin`;
    files.set('/containerd.tar.gz', await readFile(join(dir, 'containerd.tar.gz')));
    files.set('/runc.amd64', Buffer.from('#!/bin/sh\necho runc\n'));
    server = createServer((request, response) => {
      requests.push(request.url ?? '');
      const body = files.get(request.url ?? '');
      response.writeHead(body === undefined ? 404 : 200).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const archive = (): PinnedDownload => ({
    name: 'containerd',
    url: `${base}/containerd.tar.gz`,
    sha256: sha256(files.get('/containerd.tar.gz') ?? Buffer.alloc(0)),
    installs: [
      { member: 'bin/containerd', to: join(dir, 'root/usr/local/bin/containerd') },
      { member: 'bin/ctr', to: join(dir, 'root/usr/local/bin/ctr') },
    ],
  });

  it('downloads, verifies and installs only the members asked for; a verified file is not fetched again', async () => {
    const download = archive();
    const file = join(dir, 'downloads/containerd.tar.gz');
    await executor.run(fetchVerifiedCommand(download.url, download.sha256, file));
    await executor.run(installFromDownloadCommand(download, file));
    assert.equal(await readFile(join(dir, 'root/usr/local/bin/containerd'), 'utf8'), '#!/bin/sh\necho containerd\n');
    assert.deepEqual((await readdir(join(dir, 'root/usr/local/bin'))).sort(), ['containerd', 'ctr']);
    assert.equal((await $`stat -c %a ${join(dir, 'root/usr/local/bin/ctr')}`).stdout.trim(), '755');
    const fetched = requests.length;
    await executor.run(fetchVerifiedCommand(download.url, download.sha256, file));
    assert.equal(requests.length, fetched, 'the verified download in place was used');

    const runc: PinnedDownload = { name: 'runc', url: `${base}/runc.amd64`, sha256: sha256(files.get('/runc.amd64') ?? Buffer.alloc(0)), installs: [{ member: '', to: join(dir, 'root/usr/local/bin/runc') }] };
    await executor.run(fetchVerifiedCommand(runc.url, runc.sha256, join(dir, 'downloads/runc.amd64')));
    await executor.run(installFromDownloadCommand(runc, join(dir, 'downloads/runc.amd64')));
    assert.equal((await $`${join(dir, 'root/usr/local/bin/runc')}`).stdout, 'runc\n');
  });

  it('refuses a download whose SHA-256 is not the pinned one: both digests named, nothing kept', async () => {
    const download = archive();
    const wrong = 'f'.repeat(64);
    const file = join(dir, 'tampered/containerd.tar.gz');
    const result = await executor.run(fetchVerifiedCommand(download.url, wrong, file), { nothrow: true });
    assert.notEqual(result.exitCode, 0);
    assert.equal(result.stderr.trim(), `SHA-256 mismatch for ${download.url}: expected ${wrong}, got ${download.sha256} (a corrupted download, or the release was replaced): nothing was installed from it`);
    assert.deepEqual(await readdir(join(dir, 'tampered')), [], 'neither the file nor a partial download is left');
  });

  it('a file in place with another digest is fetched again and replaced', async () => {
    const download = archive();
    const file = join(dir, 'stale/containerd.tar.gz');
    await mkdir(join(dir, 'stale'));
    await writeFile(file, 'an older release');
    await executor.run(fetchVerifiedCommand(download.url, download.sha256, file));
    assert.equal(sha256(await readFile(file)), download.sha256);
  });

  it('a download that fails (404) leaves nothing behind', async () => {
    const file = join(dir, 'missing/containerd.tar.gz');
    const result = await executor.run(fetchVerifiedCommand(`${base}/nope.tar.gz`, 'a'.repeat(64), file), { nothrow: true });
    assert.notEqual(result.exitCode, 0);
    assert.match(result.stderr, /404/);
    assert.deepEqual(await readdir(join(dir, 'missing')), []);
  });
});

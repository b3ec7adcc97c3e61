import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot, startCommand } from './harness.ts';

const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));

function instruction(keyword: string): string[] {
  return instructions.filter((line) => line.startsWith(`${keyword} `)).map((line) => line.slice(keyword.length + 1).trim());
}

describe('Dockerfile', () => {
  it('starts each service with exactly the command the tests spawn', () => {
    const cmd = instruction('CMD');
    assert.equal(cmd.length, 1);
    assert.deepEqual(JSON.parse(cmd[0] ?? '') as unknown, startCommand('frontend'));
    assert.deepEqual(JSON.parse(cmd[0] ?? '') as unknown, startCommand('backend'));
    assert.deepEqual(instruction('WORKDIR').at(-1), '/app/services/${SERVICE}', 'the command runs in the service folder, as in the tests');
    assert.equal(instruction('ENTRYPOINT').length, 0);
  });

  it('runs as a non-root numeric user on a pinned Node 24 image', () => {
    assert.deepEqual(instruction('USER'), ['10001:10001']);
    const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    assert.match(image ?? '', /^node:24\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/);
    assert.deepEqual(instruction('FROM').map((from) => from.split(' ')[0]), ['${NODE_IMAGE}', '${NODE_IMAGE}']);
  });

  it('installs production dependencies of one service only', () => {
    const install = instruction('RUN').find((run) => run.includes('npm ci')) ?? '';
    assert.ok(install.includes('--omit=dev'));
    assert.ok(install.includes('--workspace "services/$SERVICE"'));
    assert.ok(install.includes('--include-workspace-root=false'));
  });

  it('keeps tests, node_modules and caches out of the build context', () => {
    const ignore = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    assert.equal(ignore.find((line) => line.trim() !== '' && !line.startsWith('#')), '*', 'allowlist: everything excluded first');
    const allowed = ignore.filter((line) => line.startsWith('!'));
    assert.ok(allowed.every((line) => /^!(package(-lock)?\.json|services\/(common|frontend|backend)\/(package\.json|src\/\*\*))$/.test(line)), allowed.join(', '));
    assert.ok(ignore.includes('**/node_modules'));
  });
});

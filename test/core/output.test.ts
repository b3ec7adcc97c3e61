import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createOutput } from '../../core/output.ts';
import { runSteps } from '../../core/steps.ts';

function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

describe('runSteps()', () => {
  it('prints a ✓ line per step and stops at the first failure with a ✗ line', async () => {
    const { stream, text } = capture();
    const output = createOutput({ stream, interactive: false });
    const ran: string[] = [];
    const steps = [
      { title: 'first', run: async () => { ran.push('first'); } },
      { title: 'second', run: async () => { ran.push('second'); throw new Error('boom'); } },
      { title: 'third', run: async () => { ran.push('third'); } },
    ];
    await assert.rejects(runSteps(steps, {}, output), /boom/);
    assert.deepEqual(ran, ['first', 'second']);
    assert.match(text(), / ✓ first/);
    assert.match(text(), / ✗ second/);
    assert.doesNotMatch(text(), /third/);
  });

  it('prints nothing but failures when quiet', async () => {
    const { stream, text } = capture();
    const output = createOutput({ stream, interactive: false, verbosity: 'quiet' });
    await output.step('silent', async () => {});
    await assert.rejects(output.step('loud', () => Promise.reject(new Error('x'))));
    assert.doesNotMatch(text(), /silent/);
    assert.match(text(), /✗ loud/);
  });
});

describe('createOutput() on a terminal', () => {
  it('clears the spinner line before a progress line printed during a step', async () => {
    const { stream, text } = capture();
    const output = createOutput({ stream, interactive: true });
    await output.step('Wait for Deployment d/x', async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      output.info('  … still waiting after 10s: Deployment d/x: 0 of 1 updated replicas available');
    });
    const clearLine = '\r\u001b[2K';
    assert.ok(text().includes(`${clearLine}  … still waiting after 10s: Deployment d/x`), JSON.stringify(text()));
    output.info('after');
    assert.ok(text().endsWith(')\nafter\n'), 'no clearing once the spinner stopped');
  });
});

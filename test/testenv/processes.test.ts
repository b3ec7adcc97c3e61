import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isRunning, startProcess, stopRecorded } from '../../testenv/processes.ts';

describe('startProcess()', () => {
  it('captures output in a log file and reports the exit', async () => {
    const proc = startProcess({ name: 'echo', command: 'sh', args: ['-c', 'echo hello; echo oops >&2; exit 3'] });
    const exit = await proc.exited;
    assert.deepEqual(exit, { code: 3, signal: null });
    assert.equal(proc.exitStatus(), 'exited with code 3');
    assert.equal(readFileSync(proc.logFile, 'utf8'), 'hello\noops\n');
    assert.equal(proc.logTail(1), 'oops');
  });

  it('stop() ends a process with SIGTERM', async () => {
    const proc = startProcess({ name: 'sleep', command: 'sleep', args: ['60'] });
    assert.equal(isRunning(proc), true);
    await proc.stop();
    assert.equal(isRunning(proc), false);
    assert.equal(proc.exitStatus(), 'was killed by SIGTERM');
    await proc.stop();
  });

  it('stop() falls back to SIGKILL after the grace period', async () => {
    const proc = startProcess({ name: 'stubborn', command: 'sh', args: ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.1; done'] });
    while (proc.logTail(1) !== 'ready') await new Promise((resolve) => setTimeout(resolve, 20));
    await proc.stop(300);
    assert.equal(proc.exitStatus(), 'was killed by SIGKILL');
  });
});

describe('stopRecorded()', () => {
  it('stops a detached process by its recorded pid and start time', async () => {
    const proc = startProcess({ name: 'sleep', command: 'sleep', args: ['60'], detached: true });
    const record = proc.record();
    assert.notEqual(record.startTicks, '');
    assert.equal(isRunning({ pid: record.pid, startTicks: '1' }), false, 'a different start time is another process');
    await stopRecorded(record);
    assert.equal(isRunning(record), false);
  });
});

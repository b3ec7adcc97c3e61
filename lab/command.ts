import type { Command } from 'commander';
import type { GlobalOptions } from '../core/context.ts';
import { UserError, exitCodes } from '../core/errors.ts';
import type { KubeClient } from '../core/kube/client.ts';
import { parseDuration } from '../core/kube/duration.ts';
import { explainKubeError } from '../core/kube/report.ts';
import type { RetryPolicy } from '../core/kube/retry.ts';
import type { Layer } from '../core/layer.ts';

type GlobalsOf = (command: Command) => GlobalOptions;

/** A look, not a change: a cluster that does not answer is said in seconds, not after the deploy engine's 30 s. */
const lookRetry: RetryPolicy = { attempts: 3, maxElapsedMs: 5_000, baseDelayMs: 300, maxDelayMs: 2_000 };

/** A client for the user's cluster; any API failure becomes one line (unreachable: exit 4). */
async function looking<T>(globals: GlobalOptions, what: string, work: (kube: KubeClient) => Promise<T>): Promise<T> {
  const { createKube } = await import('../core/kube/client.ts');
  const kube = createKube({ kubeconfig: globals.kubeconfig, context: globals.context, retry: lookRetry });
  try {
    return await work(kube);
  } catch (err) {
    throw explainKubeError(what, undefined, err);
  } finally {
    await kube.close();
  }
}

function parseRequests(text: string): number {
  const count = Number(text);
  if (!/^\d+$/.test(text) || count < 1 || count > 100) throw new UserError(`--requests '${text}' is not a request count from 1 to 100: pass e.g. --requests 5`);
  return count;
}

/** `tracelab status`, `tracelab verify`: read-only views of the running lab. */
export function registerLabCommands(program: Command, globals: GlobalsOf, layers: readonly Layer<unknown>[]): void {
  program
    .command('status')
    .description("prerequisites, the cluster and its nodes, each layer installed / missing / degraded and why, and the UIs")
    .option('--json', 'print the status as JSON', false)
    .action(async (flags: { json: boolean }, command: Command) => {
      const global = globals(command);
      // Loaded here: zx and client-node's port-forward need not slow down every other command.
      const { formatStatus, gatherStatus, statusHealthy } = await import('./status.ts');
      const status = await looking(global, 'read the status of the lab', (kube) => gatherStatus(kube, layers));
      process.stdout.write(flags.json ? `${JSON.stringify({ ...status, healthy: statusHealthy(status) }, null, 2)}\n` : `${formatStatus(status).join('\n')}\n`);
    });

  program
    .command('verify')
    .description('prove the lab works: requests through frontend, each one trace in Jaeger, RED metrics in Prometheus, the autoscalers reading CPU (and the mesh, when installed)')
    .option('--json', 'print the checks as JSON', false)
    .option('--requests <n>', 'requests to send through the frontend and follow into Jaeger', '5')
    .option('--timeout <duration>', 'how long each check waits for its data (spans, the next scrape, the autoscalers’ next read)', '60s')
    .action(async (flags: { json: boolean; requests: string; timeout: string }, command: Command) => {
      const global = globals(command);
      const requests = parseRequests(flags.requests);
      const waitMs = parseDuration(flags.timeout, '--timeout');
      const { formatChecks, verifyLab, verifyPassed } = await import('./verify.ts');
      const results = await looking(global, 'verify the lab', (kube) => verifyLab(kube, { requests, waitMs, output: global.output }));
      const ok = verifyPassed(results);
      process.stdout.write(flags.json ? `${JSON.stringify({ passed: ok, checks: results }, null, 2)}\n` : `${formatChecks(results).join('\n')}\n`);
      if (!ok) {
        const failures = results.filter((result) => result.status === 'fail').map((result) => result.title);
        throw new UserError(`verify: ${failures.length} check${failures.length === 1 ? '' : 's'} failed: ${failures.join(', ')} (reasons in the table)`, { exitCode: exitCodes.checksFailed });
      }
    });
}

import { UserError } from '../../core/errors.ts';
import { gatherHostFacts } from '../host-facts.ts';
import { failures, judgeHost, standaloneRequirements } from '../preflight.ts';
import type { BootstrapStep } from './step.ts';

/** Reads the host once and judges it: every failure at once, each with its fix; warnings printed. */
export const preflight: BootstrapStep = {
  title: 'Preflight checks',
  isDone: () => Promise.resolve(false),
  async run(ctx) {
    const facts = await gatherHostFacts({ host: ctx.host.name, run: (command) => ctx.host.probe(command), writeFile: () => Promise.reject(new Error('preflight writes nothing')), readFile: (path) => ctx.host.read(path) });
    ctx.facts = facts;
    const alreadyInitialized = (await ctx.host.read('/etc/kubernetes/admin.conf')) !== undefined;
    const findings = judgeHost(facts, { ...standaloneRequirements, alreadyInitialized });
    for (const finding of findings.filter((f) => f.severity === 'warn')) ctx.output.warn(`${ctx.host.name}: ${finding.check}: ${finding.message}`);
    const failed = failures(findings);
    if (failed.length > 0) {
      throw new UserError(`${ctx.host.name} is not ready for Kubernetes: ${failed.map((f) => `${f.check}: ${f.message}`).join('; ')}`);
    }
  },
};

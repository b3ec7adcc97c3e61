import { Option, type Command } from 'commander';
import type { GlobalOptions } from '../core/context.ts';
import type { Layer } from '../core/layer.ts';
import { runUi, uiDefaults, uiSpecs, type UiKey } from './ui.ts';

type GlobalsOf = (command: Command) => GlobalOptions;

type UiCommandFlags = { portOffset: string; password: boolean; headlamp: boolean; tokenTtl: string; timeout: string } & Partial<Record<`${UiKey}Port`, string>>;

/** `tracelab ui` (`npm run ui`): every installed web UI of the lab on a local port, until Ctrl-C. */
export function registerUiCommand(program: Command, globals: GlobalsOf, layers: readonly Layer<unknown>[]): void {
  const command = program
    .command('ui')
    .description('forward Grafana, Jaeger, Prometheus, Headlamp and Kiali (those installed) to local ports and print their URLs; Ctrl-C ends it (exit 0)')
    .addOption(new Option('--port-offset <n>', 'add n to every default local port (Grafana 3000, Jaeger 16686, Prometheus 9090, Headlamp 4466, Kiali 20001)').default(uiDefaults.portOffset));
  for (const spec of uiSpecs) command.addOption(new Option(`--${spec.key}-port <port>`, `local port of ${spec.title} (default ${String(spec.localPort)} + --port-offset)`));
  command
    .option('--password', "print Grafana's admin password with the URLs (never printed otherwise)", false)
    .option('--headlamp', 'install Headlamp first (the headlamp layer: a read-only sign-in account), then forward to it too', false)
    .addOption(new Option('--token-ttl <duration>', 'lifetime of the Headlamp sign-in token, 10m to 24h').default(uiDefaults.tokenTtl))
    .addOption(new Option('--timeout <duration>', 'deadline of the Headlamp install (--headlamp)').default(uiDefaults.timeout))
    .action(async (flags: UiCommandFlags, cmd: Command) => {
      const global = globals(cmd);
      const ports: Partial<Record<UiKey, string>> = {};
      for (const spec of uiSpecs) {
        const given = flags[`${spec.key}Port`];
        if (given !== undefined) ports[spec.key] = given;
      }
      await runUi(global, { portOffset: flags.portOffset, ports, password: flags.password, headlamp: flags.headlamp, tokenTtl: flags.tokenTtl, timeout: flags.timeout }, {
        print: (line) => process.stdout.write(`${line}\n`),
        layers,
      });
    });
}

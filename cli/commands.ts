import type { Command } from 'commander';
import type { GlobalOptions } from '../core/context.ts';
import { registerBootstrapCommands } from '../bootstrap/command.ts';
import { registerNodeCommands } from '../bootstrap/node-command.ts';
import { registerVmCommands } from '../bootstrap/vms-command.ts';
import { registerLayerCommands } from '../core/kube/commands.ts';
import { registerDemoCommands } from '../demo/command.ts';
import { registerMonitoringCommands } from '../monitoring/command.ts';
import { registerUiCommand } from '../lab/ui-command.ts';
import { registerLabCommands } from '../lab/command.ts';
import { registerLoadtestCommands } from '../loadtest/command.ts';
import { registerMeshCommands } from '../mesh/command.ts';
import { layers } from './layers.ts';

export type GlobalsOf = (command: Command) => GlobalOptions;

/** Registers the commands that are built; each lives next to the layer it drives. */
export function registerCommands(program: Command, globals: GlobalsOf): void {
  for (const register of registrations) register(program, globals);
}

const registrations: ((program: Command, globals: GlobalsOf) => void)[] = [
  (program, globals) => {
    registerLayerCommands(program, globals, layers); // up, teardown, render <layer>
  },
  (program, globals) => {
    registerDemoCommands(program, globals, layers); // deploy demo
  },
  (program, globals) => {
    registerMonitoringCommands(program, globals, layers); // deploy monitoring, monitoring password, footprint
  },
  (program, globals) => {
    registerBootstrapCommands(program, globals, layers); // bootstrap, artifacts build
  },
  (program, globals) => {
    registerNodeCommands(program, globals); // node drain, node uncordon
  },
  registerVmCommands, // vms up, vms destroy
  (program, globals) => {
    registerUiCommand(program, globals, layers); // ui
  },
  (program, globals) => {
    registerLabCommands(program, globals, layers); // status, verify
  },
  registerLoadtestCommands, // loadtest <scenario>
  (program, globals) => {
    registerMeshCommands(program, globals, layers); // mesh fault <preset>
  },
];

import type { BootstrapContext, BootstrapStep } from './step.ts';

export const cniConfigFile = '/etc/cni/net.d/10-tracelab-bridge.conflist';

/** A standalone node's pod network: one Linux bridge, addresses from the pod subnet, port mappings. */
export function renderBridgeConflist(podSubnet: string): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'tracelab',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: podSubnet }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

const wanted = (ctx: BootstrapContext): string => renderBridgeConflist(ctx.lab.podSubnet);

/** The single-node bridge CNI (multi-node labs get Calico or Flannel). */
export const cni: BootstrapStep = {
  title: 'Pod network (bridge CNI)',
  async isDone(ctx) {
    return (await ctx.host.read(cniConfigFile)) === wanted(ctx);
  },
  async run(ctx) {
    await ctx.host.write(cniConfigFile, wanted(ctx));
  },
};

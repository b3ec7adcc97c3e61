import type { Layer } from '../core/layer.ts';
import { headlampNamespace } from './address.ts';
import { parseHeadlampOptions, type HeadlampOptions } from './options.ts';
import { renderHeadlamp } from './render.ts';

/** Headlamp, installed on request (`tracelab ui --headlamp` or `tracelab up headlamp`), not with monitoring. */
export const headlampLayer: Layer<HeadlampOptions> = {
  name: 'headlamp',
  description: 'Headlamp, the Kubernetes web UI, with a read-only ServiceAccount people sign in as',
  namespaces: [headlampNamespace],
  parseOptions: parseHeadlampOptions,
  render: renderHeadlamp,
};

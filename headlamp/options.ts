import { UserError } from '../core/errors.ts';
import { headlampImage } from './address.ts';

export interface HeadlampOptions {
  /** The Headlamp image; default the pinned one (a mirror's copy in an air-gapped lab). */
  readonly image: string;
}

export const headlampOptionKeys = ['image'] as const;

/** A reference with a registry/repository path and a tag or digest, e.g. mirror.lab:5000/headlamp:v0.45.0. */
const reference = /^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)+(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$/;

export function parseHeadlampOptions(raw: Readonly<Record<string, string | undefined>>): HeadlampOptions {
  for (const key of Object.keys(raw)) {
    if (!(headlampOptionKeys as readonly string[]).includes(key)) {
      throw new UserError(`unknown option --${key} for the headlamp layer — it takes ${headlampOptionKeys.map((k) => `--${k}`).join(', ')}`);
    }
  }
  const image = raw.image ?? headlampImage;
  if (!reference.test(image) || !/[:@]/.test(image.slice(image.lastIndexOf('/')))) {
    throw new UserError(`--image '${image}' is not an image reference with a tag or digest — pass e.g. --image mirror.lab:5000/headlamp-k8s/headlamp:v0.45.0`);
  }
  return { image };
}

// zod/mini, with English messages, for what the Lambdas parse (the contracts between states, the
// stored records): its functions tree-shake, so a bundle holds ~33 KB of zod instead of the ~100 KB
// every classic schema brings (its methods reach all of zod; issue 12). Mini registers no locale of its
// own, so without the line below people would read "Invalid input" where classic zod names what was
// expected; classic zod (the configuration schema, the CLI) sets the same English messages.
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';

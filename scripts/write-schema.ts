// Writes greenlight.schema.json (JSON Schema of the configuration file, for editors) from the zod schema.
import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../shared/config/json-schema.ts';

writeFileSync(new URL('../greenlight.schema.json', import.meta.url), `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log('wrote greenlight.schema.json');

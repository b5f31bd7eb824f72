import * as z from 'zod';
import { GreenlightConfig } from './schema.ts';

/** The configuration's JSON Schema as an editor sees the file: inputs, before defaults and conversions. */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(GreenlightConfig, { io: 'input', unrepresentable: 'any' }),
    title: 'greenlight configuration',
    description: 'Applications, their ECR repositories, bundle templates, stages and health settings.',
  };
}

import { z } from 'zod';
import { formatDuration } from '../duration.js';
import { durationSchema, planSchema } from './schema.js';

/** Where editors find the published schema (the `# yaml-language-server: $schema=` line in plans). */
export const PLAN_SCHEMA_URL = 'https://raw.githubusercontent.com/OWNER/rollgate/v1/schema/rollout.schema.json';

/** The pattern a duration has in a plan: what parseDuration accepts. */
const DURATION_PATTERN = '^\\s*(\\d+(\\.\\d+)?(ms|s|m|h))+\\s*$';

type JsonSchema = Record<string, unknown>;
type ZodDef = { type: string; innerType?: z.ZodType; in?: unknown; defaultValue?: unknown };

function def(schema: z.ZodType): ZodDef {
  return (schema as unknown as { _zod: { def: ZodDef } })._zod.def;
}

/** True for durationSchema and everything derived from it (refined, defaulted, optional). */
function isDuration(schema: z.ZodType): boolean {
  let d = def(schema);
  while ((d.type === 'default' || d.type === 'optional' || d.type === 'nullable') && d.innerType) d = def(d.innerType);
  return d.type === 'pipe' && d.in === def(durationSchema).in;
}

/**
 * The rollout plan as JSON Schema (draft-07, which YAML editors understand), generated from the
 * zod schema the actions validate with. The plan is what people write, so it describes the
 * input side: durations are strings such as `30s`, with their defaults written the same way.
 */
export function planJsonSchema(): JsonSchema {
  const schema = z.toJSONSchema(planSchema, {
    io: 'input',
    target: 'draft-7',
    unrepresentable: 'any',
    override: ({ zodSchema, jsonSchema }) => {
      const schemaOf = zodSchema as unknown as z.ZodType;
      if (!isDuration(schemaOf)) return;
      for (const key of Object.keys(jsonSchema)) delete jsonSchema[key];
      Object.assign(jsonSchema, { type: 'string', pattern: DURATION_PATTERN, description: 'A duration such as 500ms, 30s, 5m or 1h' });
      const d = def(schemaOf);
      if (d.type === 'default') {
        const value = typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue;
        if (typeof value === 'number') jsonSchema.default = formatDuration(value);
      }
    },
  }) as JsonSchema;
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: PLAN_SCHEMA_URL,
    title: 'rollgate rollout plan',
    description: 'The rollout plan (.github/rollout.yml) that rollgate actions read. Reference: docs/plan.md.',
    ...Object.fromEntries(Object.entries(schema).filter(([key]) => key !== '$schema')),
  };
}

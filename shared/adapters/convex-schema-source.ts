import type { ConvexClient, ValueFormat } from '../convex/client.js';
import type { SchemaSource } from '../ports/lifecycle.js';

/**
 * Convex's table schemas from `GET /api/json_schemas?byComponent=true` (docs/convex-api.md §4.3),
 * keyed `component/table`, described in the value format the export publishes, so a schema
 * event describes the documents beside it.
 */
export class ConvexSchemaSource implements SchemaSource {
  constructor(
    private readonly client: Pick<ConvexClient, 'jsonSchemas'>,
    private readonly format: ValueFormat,
  ) {}

  async tableSchemas(options: { readonly signal?: AbortSignal } = {}) {
    const byComponent = await this.client.jsonSchemas(
      { byComponent: true, format: this.format },
      options.signal ? { signal: options.signal } : {},
    );
    const out = new Map<string, Record<string, unknown>>();
    for (const [component, tables] of Object.entries(byComponent)) {
      if (typeof tables !== 'object' || tables === null) continue;
      for (const [table, schema] of Object.entries(tables as Record<string, unknown>))
        if (typeof schema === 'object' && schema !== null)
          out.set(`${component}/${table}`, schema as Record<string, unknown>);
    }
    return out;
  }
}

import { defineConfig } from 'drizzle-kit';

// The reference cloud's database (src/cloud/db/schema.ts -> migrations-cloud/), separate from the node's.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/cloud/db/schema.ts',
  out: './migrations-cloud',
});

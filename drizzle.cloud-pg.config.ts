import { defineConfig } from 'drizzle-kit';

// The reference cloud's database on PostgreSQL (src/cloud/db/pg-schema.ts -> migrations-cloud-pg/), for several
// instances sharing one store; the embedded default stays SQLite (drizzle.cloud.config.ts).
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/cloud/db/pg-schema.ts',
  out: './migrations-cloud-pg',
});

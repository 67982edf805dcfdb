-- Every text column compares and sorts byte by byte (COLLATE "C"), as SQLite's BINARY does: the cloud pages the
-- key directory by device id and orders by ISO times, and one SQL text must give one order on both stores,
-- whatever locale the database was created with. A later migration that adds a text column says COLLATE "C" too.
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT table_name, column_name FROM information_schema.columns
           WHERE table_schema = current_schema() AND data_type = 'text' AND collation_name IS DISTINCT FROM 'C'
  LOOP
    EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE text COLLATE "C"', r.table_name, r.column_name);
  END LOOP;
END $$;

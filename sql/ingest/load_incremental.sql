-- One source table loaded by its change column, each table with its own watermark (the max of
-- that column already loaded): run with --for-each sql/ingest/tables.json. --var from_date=...
-- moves every watermark back (a backfill); the MERGE on the key makes that safe to re-run.
CREATE TABLE IF NOT EXISTS ${table} AS
SELECT * FROM read_files('${landing}/${folder}/', header => true, schemaHints => '${change_column} TIMESTAMP')
LIMIT 0;

DECLARE OR REPLACE VARIABLE watermark TIMESTAMP DEFAULT (
  SELECT coalesce(CAST(NULLIF('${from_date}', '') AS TIMESTAMP), max(${change_column}),
                  TIMESTAMP '1970-01-01')
  FROM ${table});

MERGE INTO ${table} t
USING (
  -- The newest version of each key past the watermark.
  SELECT * EXCLUDE (newest) FROM (
    SELECT *, row_number() OVER (PARTITION BY ${key} ORDER BY ${change_column} DESC) AS newest
    FROM read_files('${landing}/${folder}/', header => true, schemaHints => '${change_column} TIMESTAMP')
    WHERE ${change_column} > watermark
  ) WHERE newest = 1
) s
ON t.${key} = s.${key}
WHEN MATCHED THEN UPDATE SET *
WHEN NOT MATCHED THEN INSERT *;

-- One source table, loaded by a metadata-driven job: run with --for-each sql/ingest/sources.json.
COPY INTO ${table}
FROM '${landing}/${folder}/'
FILEFORMAT = ${format}
FORMAT_OPTIONS ('header' = 'true', 'inferSchema' = 'true')
COPY_OPTIONS ('deadLetterTable' = '${table}_dead_letter');

-- Calls from the API, keyed by a hash of the business key: a re-run of any mode (backfill,
-- daily, rehydration) updates what it finds and adds nothing twice.
CREATE TABLE IF NOT EXISTS bronze.calls (
  call_key STRING, id BIGINT, started_at TIMESTAMP, duration_s INT,
  agent_id BIGINT, agent_name STRING, _page BIGINT, _fetched_at TIMESTAMP
);

MERGE INTO bronze.calls t
USING (
  SELECT sha2(CAST(id AS STRING), 256) AS call_key, id, started_at, duration_s,
         agent['id'] AS agent_id, agent['name'] AS agent_name, _page, _fetched_at
  FROM read_api('${api}/v2/calls',
    secret => 'calls_api',
    params => map('start_date', '${from_date}', 'end_date', '${to_date}'),
    records => '$.data',
    pagination => 'page', page_size_param => 'per_page', page_size => 10,
    total_pages_header => 'X-Pages',
    max_pages => ${max_pages},
    schema => 'id BIGINT, started_at TIMESTAMP, duration_s INT, agent STRUCT<id: BIGINT, name: STRING>')
) s
ON t.call_key = s.call_key
WHEN MATCHED THEN UPDATE SET *
WHEN NOT MATCHED THEN INSERT *;

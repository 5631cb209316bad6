-- Silver: one row per call, minutes instead of seconds, agents named.
CREATE OR REPLACE TABLE silver.calls AS
SELECT id, started_at, CAST(started_at AS DATE) AS call_date,
       round(duration_s / 60.0, 2) AS minutes, agent_id, agent_name
FROM bronze.calls;

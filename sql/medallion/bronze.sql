-- Bronze: every raw file as it arrived, all columns as text, plus ingestion metadata.
-- Rows are keyed on a hash of the raw record, so a re-run over the same files adds nothing.
-- The change feed lets silver read only what each run added (incremental(...)).

CREATE TABLE IF NOT EXISTS bronze.orders (
    order_id     STRING,
    customer_id  STRING,
    order_ts     STRING,
    status       STRING,
    amount       STRING,
    _record_hash STRING,
    _ingested_at TIMESTAMP,
    _run_id      STRING
) TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true');

MERGE INTO bronze.orders AS t
USING (
    SELECT CAST(order_id AS STRING)    AS order_id,
           CAST(customer_id AS STRING) AS customer_id,
           CAST(order_ts AS STRING)    AS order_ts,
           CAST(status AS STRING)      AS status,
           CAST(amount AS STRING)      AS amount,
           md5(concat_ws('|', coalesce(CAST(order_id AS STRING), ''), coalesce(customer_id, ''),
                         CAST(order_ts AS STRING), coalesce(status, ''), CAST(amount AS STRING)))
                                       AS _record_hash,
           now()                       AS _ingested_at,
           '${run_id}'                 AS _run_id
    FROM 'fixtures/medallion/orders/'
) AS s
ON t._record_hash = s._record_hash
WHEN NOT MATCHED THEN INSERT *;

CREATE TABLE IF NOT EXISTS bronze.sensor_readings (
    sensor_id     STRING,
    ts            STRING,
    temperature_c STRING,
    humidity      STRING,
    _record_hash  STRING,
    _ingested_at  TIMESTAMP,
    _run_id       STRING
) TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true');

MERGE INTO bronze.sensor_readings AS t
USING (
    SELECT sensor_id,
           CAST(ts AS STRING)            AS ts,
           CAST(temperature_c AS STRING) AS temperature_c,
           CAST(humidity AS STRING)      AS humidity,
           md5(concat_ws('|', coalesce(sensor_id, ''), CAST(ts AS STRING),
                         coalesce(CAST(temperature_c AS STRING), ''),
                         coalesce(CAST(humidity AS STRING), ''))) AS _record_hash,
           now()                         AS _ingested_at,
           '${run_id}'                   AS _run_id
    FROM 'fixtures/medallion/sensors/'
) AS s
ON t._record_hash = s._record_hash
WHEN NOT MATCHED THEN INSERT *;

-- Reference data is small: replaced whole on every run.
CREATE OR REPLACE TABLE bronze.customers AS
SELECT * FROM 'fixtures/medallion/customers.csv';

-- Silver orders: typed, cleaned, one row per order (the latest state), with expectations.
-- Rows without an id or with a non-positive amount are dropped into silver.orders_quarantine;
-- odd statuses and missing customers are kept and counted in lakeshell.quality_results.

CREATE TABLE IF NOT EXISTS silver.orders (
    CONSTRAINT valid_order_id  EXPECT (order_id IS NOT NULL) ON VIOLATION DROP ROW,
    CONSTRAINT positive_amount EXPECT (amount > 0) ON VIOLATION DROP ROW,
    CONSTRAINT known_status    EXPECT (status IN ('placed', 'shipped', 'delivered', 'cancelled')),
    CONSTRAINT has_customer    EXPECT (customer_id IS NOT NULL),
    order_id    BIGINT,
    customer_id STRING,
    order_ts    TIMESTAMP,
    order_date  DATE,
    status      STRING,
    amount      DECIMAL(10, 2)
) PARTITIONED BY (order_date);

-- Only the bronze rows added since the last successful run (all of them on the first run or
-- with --full-refresh), deduplicated to the latest state per order, merged on the business key.
MERGE INTO silver.orders AS t
USING (
    SELECT order_id, customer_id, order_ts, order_date, status, amount
    FROM (
        SELECT CAST(order_id AS BIGINT)                         AS order_id,
               nullif(trim(customer_id), '')                    AS customer_id,
               CAST(order_ts AS TIMESTAMP)                      AS order_ts,
               CAST(CAST(order_ts AS TIMESTAMP) AS DATE)        AS order_date,
               lower(trim(status))                              AS status,
               CAST(amount AS DECIMAL(10, 2))                   AS amount,
               row_number() OVER (PARTITION BY CAST(order_id AS BIGINT)
                                  ORDER BY CAST(order_ts AS TIMESTAMP) DESC) AS newest
        FROM incremental('bronze.orders')
    ) AS ranked
    WHERE newest = 1 OR order_id IS NULL
) AS s
ON t.order_id = s.order_id
WHEN MATCHED AND s.order_ts > t.order_ts THEN UPDATE SET *
WHEN NOT MATCHED THEN INSERT *;

CREATE OR REPLACE TABLE silver.customers AS
SELECT CAST(customer_id AS STRING) AS customer_id, name, country FROM bronze.customers;

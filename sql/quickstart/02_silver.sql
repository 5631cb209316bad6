-- Silver: typed, cleaned and deduplicated orders, partitioned by day.
CREATE OR REPLACE TABLE silver.orders PARTITIONED BY (order_date) AS
SELECT DISTINCT
    CAST(order_id AS BIGINT)           AS order_id,
    CAST(customer_id AS BIGINT)        AS customer_id,
    CAST(order_ts AS TIMESTAMP)        AS order_ts,
    CAST(CAST(order_ts AS TIMESTAMP) AS DATE) AS order_date,
    CAST(amount AS DECIMAL(10, 2))     AS amount,
    lower(trim(status))                AS status
FROM bronze.orders
WHERE order_id IS NOT NULL
  AND amount >= 0;

-- Gold: business aggregates, rebuilt from silver on every run (so a re-run changes nothing).

CREATE OR REPLACE TABLE gold.daily_revenue AS
SELECT o.order_date,
       count(*)                      AS orders,
       count(DISTINCT o.customer_id) AS customers,
       sum(o.amount)                 AS revenue
FROM silver.orders o
WHERE o.status <> 'cancelled'
GROUP BY o.order_date;

CREATE OR REPLACE TABLE gold.revenue_by_country AS
SELECT coalesce(c.country, 'unknown') AS country,
       count(*)                       AS orders,
       sum(o.amount)                  AS revenue
FROM silver.orders o
LEFT JOIN silver.customers c ON o.customer_id = c.customer_id
WHERE o.status <> 'cancelled'
GROUP BY coalesce(c.country, 'unknown');

CREATE OR REPLACE TABLE gold.sensor_hourly AS
SELECT sensor_id,
       date_trunc('hour', reading_ts) AS hour,
       count(*)                       AS readings,
       avg(temperature_c)             AS avg_temperature_c,
       max(temperature_c)             AS max_temperature_c
FROM silver.sensor_readings
GROUP BY sensor_id, date_trunc('hour', reading_ts);

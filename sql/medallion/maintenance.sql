-- Maintenance: compact silver (clustering orders by customer), then remove files older than
-- the default 7-day retention. It reads the tables, so it runs after the files that write them.

OPTIMIZE silver.orders ZORDER BY (customer_id);
OPTIMIZE silver.sensor_readings;
VACUUM silver.orders RETAIN 168 HOURS;
VACUUM silver.sensor_readings RETAIN 168 HOURS;

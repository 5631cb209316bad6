-- New order files in the landing folder, each loaded once; records that do not parse go to a
-- dead-letter table instead of failing the load. The table's types decide what fits.
CREATE TABLE IF NOT EXISTS bronze.orders (order_id BIGINT, customer_id BIGINT, amount DOUBLE);

COPY INTO bronze.orders
FROM '${landing}/orders/'
FILEFORMAT = CSV
PATTERN = '2024-*/*.csv'
FORMAT_OPTIONS ('header' = 'true', 'inferSchema' = 'true')
COPY_OPTIONS ('deadLetterTable' = 'bronze.orders_dead_letter', 'mergeSchema' = 'true');

-- Bronze: the raw files, as they arrived. CREATE OR REPLACE makes a re-run write a new version
-- with the same rows, never duplicates.
CREATE OR REPLACE TABLE bronze.orders AS
SELECT * FROM 'fixtures/quickstart/orders.csv';

CREATE OR REPLACE TABLE bronze.customers AS
SELECT * FROM 'fixtures/quickstart/customers.json';

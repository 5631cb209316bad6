-- Gold: completed revenue per country.
CREATE OR REPLACE TABLE gold.revenue_by_country AS
SELECT c.country,
       count(*)       AS orders,
       sum(o.amount)  AS revenue
FROM silver.orders o
JOIN bronze.customers c ON o.customer_id = c.customer_id
WHERE o.status = 'completed'
GROUP BY c.country;

SELECT * FROM gold.revenue_by_country ORDER BY revenue DESC;

-- Expectations over the medallion tables, for `lakeshell check sql/checks`.
-- Time-dependent checks use --now (or SET lakeshell.now), so results are repeatable.

-- The expectations attached to silver.orders, over the whole table.
CHECK silver.orders;

CHECK silver.orders (
    CONSTRAINT one_row_per_order EXPECT UNIQUE (order_id) ON VIOLATION FAIL,
    CONSTRAINT known_customer    EXPECT (customer_id) REFERENCES silver.customers (customer_id),
    CONSTRAINT some_orders       EXPECT ROW COUNT BETWEEN 1 AND 1000000 ON VIOLATION FAIL,
    CONSTRAINT fresh_orders      EXPECT FRESHNESS order_ts WITHIN INTERVAL '1 day' ON VIOLATION FAIL,
    CONSTRAINT sane_amounts      EXPECT (amount < 10000) FAIL IF > 1% WARN IF > 0
);

CHECK gold.daily_revenue (
    CONSTRAINT revenue_adds_up EXPECT NO ROWS (
        SELECT g.order_date, g.revenue, s.revenue AS silver_revenue
        FROM gold.daily_revenue g
        JOIN (SELECT order_date, sum(amount) AS revenue
              FROM silver.orders WHERE status <> 'cancelled' GROUP BY order_date) s
          ON g.order_date = s.order_date
        WHERE g.revenue <> s.revenue
    ) ON VIOLATION FAIL
);

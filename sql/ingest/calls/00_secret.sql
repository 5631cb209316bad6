-- The API's token comes from the environment; nothing secret is written here.
CREATE OR REPLACE SECRET calls_api (TYPE bearer, TOKEN '${CALLS_TOKEN}');

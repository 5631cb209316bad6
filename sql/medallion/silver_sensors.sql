-- Silver sensor readings: typed, one row per sensor and time, physically possible values only.

CREATE TABLE IF NOT EXISTS silver.sensor_readings (
    CONSTRAINT has_sensor      EXPECT (sensor_id IS NOT NULL) ON VIOLATION DROP ROW,
    CONSTRAINT plausible_temp  EXPECT (temperature_c BETWEEN -50 AND 80) ON VIOLATION DROP ROW,
    CONSTRAINT has_humidity    EXPECT (humidity IS NOT NULL),
    sensor_id     STRING,
    reading_ts    TIMESTAMP,
    temperature_c DOUBLE,
    humidity      DOUBLE
);

MERGE INTO silver.sensor_readings AS t
USING (
    SELECT DISTINCT sensor_id,
           CAST(ts AS TIMESTAMP)          AS reading_ts,
           CAST(temperature_c AS DOUBLE)  AS temperature_c,
           CAST(humidity AS DOUBLE)       AS humidity
    FROM incremental('bronze.sensor_readings')
) AS s
ON t.sensor_id = s.sensor_id AND t.reading_ts = s.reading_ts
WHEN NOT MATCHED THEN INSERT *;

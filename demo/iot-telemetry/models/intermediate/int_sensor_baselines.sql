select
    sensor_id,
    count(*) as reading_count,
    avg(reading_value) as mean_value,
    stddev_samp(reading_value) as stddev_value
from {{ ref('stg_readings') }}
group by sensor_id

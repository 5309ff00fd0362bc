select
    cast(reading_id as bigint) as reading_id,
    cast(sensor_id as integer) as sensor_id,
    cast(read_at as timestamp) as read_at,
    cast(value as double) as reading_value
from {{ ref('raw_readings') }}

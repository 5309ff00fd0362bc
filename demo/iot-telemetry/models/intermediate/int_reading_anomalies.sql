select
    r.reading_id,
    r.sensor_id,
    r.read_at,
    r.reading_value,
    {{ safe_divide('r.reading_value - b.mean_value', 'b.stddev_value') }} as z_score,
    coalesce(abs({{ safe_divide('r.reading_value - b.mean_value', 'b.stddev_value') }}) > 3, false)
        as is_anomaly
from {{ ref('stg_readings') }} r
join {{ ref('int_sensor_baselines') }} b on b.sensor_id = r.sensor_id

select
    cast(sensor_id as integer) as sensor_id,
    cast(equipment_id as integer) as equipment_id,
    sensor_type,
    site,
    cast(installed_on as date) as installed_on
from {{ ref('raw_sensors') }}

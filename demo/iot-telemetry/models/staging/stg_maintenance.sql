select
    cast(maintenance_id as integer) as maintenance_id,
    cast(equipment_id as integer) as equipment_id,
    cast(performed_on as date) as performed_on,
    maintenance_type,
    cast(cost as decimal(12, 2)) as cost
from {{ ref('raw_maintenance') }}

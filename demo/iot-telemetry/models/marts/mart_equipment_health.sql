with sensors as (
    select equipment_id, min(site) as site, count(*) as sensor_count
    from {{ ref('stg_sensors') }}
    group by equipment_id
),
readings as (
    select
        s.equipment_id,
        count(*) as readings,
        count(*) filter (where a.is_anomaly) as anomalies,
        max(a.read_at) as last_reading_at
    from {{ ref('int_reading_anomalies') }} a
    join {{ ref('stg_sensors') }} s on s.sensor_id = a.sensor_id
    group by s.equipment_id
),
maintenance as (
    select equipment_id, max(performed_on) as last_maintained_on, count(*) as interventions
    from {{ ref('stg_maintenance') }}
    group by equipment_id
)
select
    s.equipment_id,
    s.site,
    s.sensor_count,
    r.readings,
    r.anomalies,
    {{ safe_divide('r.anomalies', 'r.readings') }} as anomaly_rate,
    m.last_maintained_on,
    coalesce(m.interventions, 0) as interventions,
    date_diff('day', m.last_maintained_on, cast(r.last_reading_at as date)) as days_since_maintenance,
    case
        when r.anomalies >= 5 then 'critical'
        when r.anomalies >= 2
            or coalesce(date_diff('day', m.last_maintained_on, cast(r.last_reading_at as date)), 999) > 180
            then 'watch'
        else 'healthy'
    end as health_status,
    {{ floe_loaded_at() }}
from sensors s
left join readings r on r.equipment_id = s.equipment_id
left join maintenance m on m.equipment_id = s.equipment_id

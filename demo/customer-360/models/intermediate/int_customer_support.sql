select
    customer_id,
    count(*) as tickets_opened,
    count(*) filter (where status = 'open') as tickets_open,
    count(*) filter (where priority = 'high') as high_priority_tickets,
    avg(satisfaction_score) as avg_satisfaction,
    avg(date_diff('hour', opened_at, closed_at)) as avg_hours_to_close
from {{ ref('stg_support_tickets') }}
group by customer_id

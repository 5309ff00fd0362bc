select
    cast(ticket_id as integer) as ticket_id,
    cast(customer_id as integer) as customer_id,
    cast(opened_at as timestamp) as opened_at,
    cast(closed_at as timestamp) as closed_at,
    priority,
    status,
    satisfaction_score
from {{ ref('raw_support_tickets') }}

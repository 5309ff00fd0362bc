select
    customer_id,
    count(*) filter (where status = 'completed') as completed_orders,
    count(*) filter (where status = 'refunded') as refunded_orders,
    coalesce(sum(amount) filter (where status = 'completed'), 0) as gross_revenue,
    coalesce(sum(amount) filter (where status = 'refunded'), 0) as refunded_amount,
    min(transaction_at) as first_order_at,
    max(transaction_at) as last_order_at
from {{ ref('stg_transactions') }}
group by customer_id

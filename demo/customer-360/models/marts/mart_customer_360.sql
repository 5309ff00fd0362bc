with customers as (
    select * from {{ ref('stg_customers') }}
),
orders as (
    select * from {{ ref('int_customer_orders') }}
),
support as (
    select * from {{ ref('int_customer_support') }}
)
select
    c.customer_id,
    c.full_name,
    c.email,
    c.country_code,
    c.segment,
    c.signup_date,
    coalesce(o.completed_orders, 0) as completed_orders,
    coalesce(o.gross_revenue, 0) - coalesce(o.refunded_amount, 0) as lifetime_value,
    {{ safe_divide('o.refunded_orders', 'o.completed_orders + o.refunded_orders') }} as refund_rate,
    o.last_order_at,
    coalesce(s.tickets_opened, 0) as tickets_opened,
    coalesce(s.tickets_open, 0) as tickets_open,
    s.avg_satisfaction,
    case
        when o.customer_id is null then 'inactive'
        when coalesce(s.tickets_open, 0) >= 2 or coalesce(s.avg_satisfaction, 5) < 2.5 then 'high'
        when coalesce(s.high_priority_tickets, 0) >= 2 then 'medium'
        else 'low'
    end as churn_risk,
    {{ floe_loaded_at() }}
from customers c
left join orders o on o.customer_id = c.customer_id
left join support s on s.customer_id = c.customer_id

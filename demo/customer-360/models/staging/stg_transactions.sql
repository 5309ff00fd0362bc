select
    cast(transaction_id as integer) as transaction_id,
    cast(customer_id as integer) as customer_id,
    cast(transaction_at as timestamp) as transaction_at,
    cast(amount as decimal(12, 2)) as amount,
    channel,
    status
from {{ ref('raw_transactions') }}

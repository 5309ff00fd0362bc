-- customer-360's published customers (through the catalog): what churn risk costs
select
    customer_id,
    segment,
    churn_risk,
    lifetime_value
from {{ source('customer_360', 'mart_customer_360') }}

-- One row per risk indicator, from the two products' published tables.
with churn as (
    select
        'customers at high churn risk' as indicator,
        'customer-360' as source_product,
        count(*) filter (where churn_risk = 'high') as entities,
        count(*) as population,
        coalesce(sum(lifetime_value) filter (where churn_risk = 'high'), 0) as amount_at_risk
    from {{ ref('stg_customer_churn') }}
),
exposure as (
    select
        'counterparties in the high risk tier' as indicator,
        'financial-risk' as source_product,
        count(*) filter (where risk_tier = 'high') as entities,
        count(*) as population,
        coalesce(sum(abs(net_exposure)) filter (where risk_tier = 'high'), 0) as amount_at_risk
    from {{ ref('stg_counterparty_exposure') }}
)
select
    indicator,
    source_product,
    entities,
    population,
    {{ safe_divide('entities', 'population') }} as share,
    amount_at_risk,
    {{ floe_loaded_at() }}
from (select * from churn union all select * from exposure)

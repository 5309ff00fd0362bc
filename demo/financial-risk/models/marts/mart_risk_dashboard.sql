with exposure as (
    select
        counterparty_id,
        count(*) as positions,
        sum(market_value) as net_exposure,
        sum(abs(market_value)) as gross_exposure,
        sum(var_1d_99) as var_1d_99
    from {{ ref('int_position_values') }}
    group by counterparty_id
),
totals as (
    select sum(gross_exposure) as book_gross from exposure
)
select
    c.counterparty_id,
    c.counterparty_name,
    c.rating,
    c.sector,
    coalesce(e.positions, 0) as positions,
    coalesce(e.net_exposure, 0) as net_exposure,
    coalesce(e.gross_exposure, 0) as gross_exposure,
    coalesce(e.var_1d_99, 0) as var_1d_99,
    coalesce({{ safe_divide('e.gross_exposure', 't.book_gross') }}, 0) as concentration,
    case
        when c.rating in ('CCC', 'B') and coalesce({{ safe_divide('e.gross_exposure', 't.book_gross') }}, 0) > 0.02 then 'high'
        when c.rating in ('CCC', 'B', 'BB') then 'elevated'
        else 'normal'
    end as risk_tier,
    {{ floe_loaded_at() }}
from {{ ref('stg_counterparties') }} c
left join exposure e on e.counterparty_id = c.counterparty_id
cross join totals t

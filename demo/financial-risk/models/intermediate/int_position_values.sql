select
    p.position_id,
    p.counterparty_id,
    p.instrument_id,
    p.quantity,
    p.quantity * l.close_price as market_value,
    -- parametric 1-day 99% VaR: z(0.99) * sigma_daily * |value|
    2.326 * l.annual_volatility / sqrt(252) * abs(p.quantity * l.close_price) as var_1d_99
from {{ ref('stg_positions') }} p
join {{ ref('int_latest_prices') }} l on l.instrument_id = p.instrument_id

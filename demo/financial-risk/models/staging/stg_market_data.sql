select
    instrument_id,
    cast(price_date as date) as price_date,
    cast(close_price as double) as close_price,
    cast(annual_volatility as double) as annual_volatility
from {{ ref('raw_market_data') }}

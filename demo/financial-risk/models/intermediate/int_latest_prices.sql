select instrument_id, price_date, close_price, annual_volatility
from {{ ref('stg_market_data') }}
qualify row_number() over (partition by instrument_id order by price_date desc) = 1

select
    cast(counterparty_id as integer) as counterparty_id,
    counterparty_name,
    rating,
    sector,
    country as country_code
from {{ ref('raw_counterparties') }}

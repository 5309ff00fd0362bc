select
    cast(position_id as integer) as position_id,
    cast(counterparty_id as integer) as counterparty_id,
    instrument_id,
    cast(quantity as bigint) as quantity,
    cast(as_of_date as date) as as_of_date
from {{ ref('raw_positions') }}

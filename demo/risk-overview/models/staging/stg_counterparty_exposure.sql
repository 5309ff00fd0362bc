-- financial-risk's published counterparties (through the catalog): exposure by risk tier
select
    counterparty_id,
    sector,
    risk_tier,
    net_exposure,
    var_1d_99
from {{ source('financial_risk', 'mart_risk_dashboard') }}

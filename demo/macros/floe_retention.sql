{#-
  Governance retention (manifest governance.data_retention_days), run as a post-hook.
  floe passes the number of days as the dbt var `floe_data_retention_days`; rows whose
  `column` is older than that are deleted.  Safe everywhere: it does nothing when the var
  is unset, when the relation is a view, or when the relation lacks the column.
-#}
{% macro floe_retention(column='_loaded_at') -%}
    {%- set days = var('floe_data_retention_days', none) -%}
    {%- if days is none or not execute or model.config.materialized not in ['table', 'incremental'] -%}
        select 1 as floe_retention_skipped
    {%- else -%}
        {%- set names = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
        {%- if column | lower in names -%}
            delete from {{ this }}
            where {{ adapter.quote(column) }} < current_timestamp - to_days(cast({{ days | int }} as integer))
        {%- else -%}
            select 1 as floe_retention_skipped
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- The load timestamp every mart carries; retention keys on it. -#}
{% macro floe_loaded_at() -%}
    cast(current_timestamp as timestamp) as _loaded_at
{%- endmacro %}

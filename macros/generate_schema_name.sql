{#- A custom schema (the raw seeds, cdpkit state) is used as named, not prefixed with the
    target schema, so `raw.events` is the same table for the demo and for a user's loader. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

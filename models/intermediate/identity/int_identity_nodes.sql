{#- One row per identifier (type, normalized value): the nodes of the identity graph, with the
    id given in int_identifiers_normalized (60 bits of md5("type:value"), macro cdpkit_node_id).
    Grouped on the integer id alone (cheaper than a distinct over the strings). -#}
select
    node_id,
    {#- every row of a node id holds the same type and value (the id is their hash) -#}
    {{ cdpkit_any_value('identifier_type') }} as identifier_type,
    {{ cdpkit_any_value('identifier_value') }} as identifier_value
from {{ ref('int_identifiers_normalized') }}
where node_id is not null
group by node_id

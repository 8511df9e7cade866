{#- The links identity resolution may use: every co-occurrence link except those touching an
    over-linked identifier (int_identity_overlinked). -#}
with overlinked as (
    select distinct node_id from {{ ref('int_identity_overlinked') }}
)

select edges.node_a, edges.node_b
from {{ ref('int_identity_edges') }} as edges
where not exists (select 1 from overlinked where overlinked.node_id = edges.node_a)
    and not exists (select 1 from overlinked where overlinked.node_id = edges.node_b)

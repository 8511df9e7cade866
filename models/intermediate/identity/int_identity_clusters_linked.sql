{#- One row per usable identifier: its connected component over the usable links and its final
    cluster after per-customer limits (see macros/identity/materialization_identity_clusters.sql).
    Over-linked identifiers are left out: they are not identifiers of anyone. -#}
{{ config(materialized='cdpkit_identity_clusters', edges_model='int_identity_edges_filtered') }}
-- depends_on: {{ ref('int_identity_edges_filtered') }}

select nodes.node_id, nodes.identifier_type
from {{ ref('int_identity_nodes') }} as nodes
where not exists (
    select 1 from {{ ref('int_identity_overlinked') }} as overlinked
    where overlinked.node_id = nodes.node_id
)

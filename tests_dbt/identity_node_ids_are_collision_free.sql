{#- Node ids are 60-bit hashes of "type:value": two identifiers sharing one id would silently
    become one node (int_identity_nodes groups on the id), so a collision must fail the build. -#}
select node_id
from {{ ref('int_identifiers_normalized') }}
where node_id is not null
group by node_id
having min(identifier_type) <> max(identifier_type)
    or min(identifier_value) <> max(identifier_value)

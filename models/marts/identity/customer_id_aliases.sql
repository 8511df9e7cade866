{#- Retired customer ids and the id that replaced them (after a merge, the oldest id survives):
    re-key facts or destination records that still carry an old id. -#}
select
    customer_id as retired_customer_id,
    merged_into as customer_id,
    retired_at
from {{ ref('identity_customer_id_registry') }}
where status = 'merged'

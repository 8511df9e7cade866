{#- Customer ids of the previous build that this build retires because their cluster merged
    into one with an older id: old customer_id -> survivor customer_id. -#}
select
    votes.customer_id as retired_customer_id,
    ids.customer_id as survivor_customer_id,
    ids.build_number
from {{ ref('int_identity_id_votes') }} as votes
inner join {{ ref('int_identity_customer_ids') }} as ids on ids.cluster_id = votes.home_cluster_id
where ids.customer_id <> votes.customer_id

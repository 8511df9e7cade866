{#- Every customer_id ever issued (state; rebuilt from its own previous version each build, so
    --full-refresh does not re-key anyone). status: active, or merged into `merged_into` (kept
    up to date through chains of merges). -#}
{{ config(materialized='table') }}

with previous as (
    {{ cdpkit_identity_previous_registry() }}
),

current_ids as (
    select customer_id, id_origin, minted_from, build_number
    from {{ ref('int_identity_customer_ids') }}
),

retired as (
    select retired_customer_id, survivor_customer_id
    from {{ ref('int_identity_retired_ids') }}
),

this_build as (
    select coalesce(max(last_build), 0) + 1 as build_number from previous
),

carried as (
    select
        previous.customer_id,
        case when retired.retired_customer_id is not null then 'merged' else previous.status end as status,
        case
            when retired.retired_customer_id is not null then retired.survivor_customer_id
            when repointed.retired_customer_id is not null then repointed.survivor_customer_id
            else previous.merged_into
        end as merged_into,
        previous.minted_from,
        previous.first_build,
        case when current_ids.customer_id is not null then current_ids.build_number else previous.last_build end as last_build,
        previous.issued_at,
        case when retired.retired_customer_id is not null
            then cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }})
            else previous.retired_at end as retired_at
    from previous
    left join retired on retired.retired_customer_id = previous.customer_id
    left join retired as repointed on repointed.retired_customer_id = previous.merged_into
    left join current_ids on current_ids.customer_id = previous.customer_id
),

minted as (
    select
        current_ids.customer_id,
        'active' as status,
        cast(null as {{ dbt.type_string() }}) as merged_into,
        current_ids.minted_from,
        this_build.build_number as first_build,
        this_build.build_number as last_build,
        cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as issued_at,
        cast(null as {{ dbt.type_timestamp() }}) as retired_at
    from current_ids
    cross join this_build
    where current_ids.id_origin = 'minted'
        {#- An id in use that the registry does not know (its last update failed after the ids
            were written) is recorded now rather than lost. -#}
        or not exists (select 1 from previous where previous.customer_id = current_ids.customer_id)
)

select * from carried
union all
select * from minted

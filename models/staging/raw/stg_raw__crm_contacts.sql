with source as (
    select * from {{ source('raw', 'crm_contacts') }}
)

select
    cast(crm_id as {{ dbt.type_string() }}) as crm_id,
    cast(email as {{ dbt.type_string() }}) as email,
    cast(phone as {{ dbt.type_string() }}) as phone,
    nullif(trim(cast(first_name as {{ dbt.type_string() }})), '') as first_name,
    nullif(trim(cast(last_name as {{ dbt.type_string() }})), '') as last_name,
    nullif(trim(cast(company as {{ dbt.type_string() }})), '') as company,
    nullif(trim(cast(job_title as {{ dbt.type_string() }})), '') as job_title,
    nullif(lower(trim(cast(lifecycle_stage as {{ dbt.type_string() }}))), '') as lifecycle_stage,
    nullif(trim(cast(city as {{ dbt.type_string() }})), '') as city,
    nullif(upper(trim(cast(country as {{ dbt.type_string() }}))), '') as country,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
    cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at
from source

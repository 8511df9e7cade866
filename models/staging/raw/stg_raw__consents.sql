with source as (
    select * from {{ source('raw', 'consents') }}
)

select
    lower(trim(cast(identifier_type as {{ dbt.type_string() }}))) as identifier_type,
    cast(identifier as {{ dbt.type_string() }}) as identifier,
    lower(trim(cast(purpose as {{ dbt.type_string() }}))) as purpose,
    cast(granted as {{ dbt.type_boolean() }}) as granted,
    cast(recorded_at as {{ dbt.type_timestamp() }}) as recorded_at
from source

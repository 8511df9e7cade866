{#- Materialization `cdpkit_identity_clusters`: the model's SQL selects the linkable nodes
    (node_id, identifier_type); config `edges_model` names the model of usable links
    (node_a, node_b). The result has one row per node: node_id, component_id, cluster_id.

    1. component_id: exact connected components of the links (cdpkit_min_label_propagation).
    2. Per-customer limits (var cdpkit_identity_types.*.max_per_customer): while a component
       holds more identifiers of a type than allowed, it is split around those identifiers
       (the anchors of its strongest violated type): every node joins its nearest anchor
       (fewest links; ties: the anchor with the smallest node id), computed on dense ids. Each
       part is connected and holds one anchor, so the links between parts are the ones blocked;
       the loop ends when no limit is broken and raises an error if that takes more passes than
       there are types.
    3. cluster_id = the smallest node id of the final part.
-#}

{% macro _cdpkit_limits_sql() -%}
    {%- set limited = [] -%}
    {%- for t in cdpkit_identity_types() if t.max_per_customer is not none -%}
        {%- do limited.append(t) -%}
    {%- endfor -%}
    {%- for t in limited -%}
        select {{ cdpkit_sql_string(t.name) }} as identifier_type,
            {{ t.max_per_customer | int }} as max_per_customer,
            {{ t.priority | int }} as priority
        {{ 'union all' if not loop.last }}
    {% endfor -%}
{%- endmacro %}


{% materialization cdpkit_identity_clusters, default %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
    {%- set backup_relation_type = 'table' if existing_relation is none else existing_relation.type -%}
    {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
    {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
    {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
    {{ drop_relation_if_exists(preexisting_backup_relation) }}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set edges_relation = ref(config.require('edges_model')) -%}
    {%- set limits_sql = _cdpkit_limits_sql() | trim -%}
    {%- set inf = 4611686018427387904 -%}
    {%- set dist_step = 4294967296 -%}

    {%- set nodes_relation = make_temp_relation(target_relation, '__nodes') -%}
    {% do run_query(create_table_as(True, nodes_relation, sql)) %}

    {#- 1. connected components; a node starts at the smallest id among itself and its neighbours
        (only a link's larger end can get a smaller label from it: one grouping over the links) -#}
    {%- set init_sql -%}
        select nodes.node_id, coalesce(m.label, nodes.node_id) as label
        from {{ nodes_relation }} as nodes
        left join (
            select greatest(node_a, node_b) as node_id, min(least(node_a, node_b)) as label
            from {{ edges_relation }}
            group by greatest(node_a, node_b)
        ) as m on m.node_id = nodes.node_id
    {%- endset -%}
    {%- set edges_sql = 'select node_a, node_b from ' ~ edges_relation -%}
    {%- set components = cdpkit_min_label_propagation(target_relation, 'cc', init_sql, edges_sql, 0) -%}

    {#- 2. split components that break a per-customer limit -#}
    {%- set state = namespace(clusters=components, done=(limits_sql == ''), passes=0) -%}
    {%- set max_passes = (cdpkit_identity_types() | length) + 1 -%}
    {%- for pass in range(1, max_passes + 1) -%}
        {%- if not state.done -%}
            {%- set chosen_relation = make_temp_relation(target_relation, '__lim' ~ pass) -%}
            {%- set chosen_sql -%}
                with limits as ({{ limits_sql }}),
                {#- Only the limited types are counted (the limits join comes before grouping). -#}
                counts as (
                    select clusters.label as cluster_id, nodes.identifier_type,
                        min(limits.max_per_customer) as max_per_customer,
                        min(limits.priority) as priority, count(*) as n
                    from {{ state.clusters }} as clusters
                    inner join {{ nodes_relation }} as nodes on nodes.node_id = clusters.node_id
                    inner join limits on limits.identifier_type = nodes.identifier_type
                    group by clusters.label, nodes.identifier_type
                ),
                violated as (
                    select counts.cluster_id, counts.identifier_type,
                        row_number() over (partition by counts.cluster_id order by counts.priority, counts.identifier_type) as rn
                    from counts
                    where counts.n > counts.max_per_customer
                )
                select cluster_id, identifier_type from violated where rn = 1
            {%- endset -%}
            {% do run_query(create_table_as(True, chosen_relation, chosen_sql)) %}
            {%- set violating = run_query('select count(*) from ' ~ chosen_relation).columns[0].values()[0] | int -%}
            {%- if violating == 0 -%}
                {%- set state.done = true -%}
            {%- else -%}
                {{ log("identity: " ~ violating ~ " components break a per-customer limit; splitting (pass " ~ pass ~ ")") }}
                {#- The split runs on small dense ids (distance and anchor packed in one integer). -#}
                {%- set dense_relation = make_temp_relation(target_relation, '__dense' ~ pass) -%}
                {%- set dense_sql -%}
                    select
                        clusters.node_id,
                        clusters.label as cluster_label,
                        row_number() over (order by clusters.node_id) as dense_id,
                        case when nodes.identifier_type = chosen.identifier_type then 1 else 0 end as is_anchor
                    from {{ state.clusters }} as clusters
                    inner join {{ chosen_relation }} as chosen on chosen.cluster_id = clusters.label
                    inner join {{ nodes_relation }} as nodes on nodes.node_id = clusters.node_id
                {%- endset -%}
                {% do run_query(create_table_as(True, dense_relation, dense_sql)) %}
                {%- set seeds_sql -%}
                    select dense_id as node_id, case when is_anchor = 1 then dense_id else {{ inf }} end as label
                    from {{ dense_relation }}
                {%- endset -%}
                {%- set split_edges_sql -%}
                    select da.dense_id as node_a, db.dense_id as node_b
                    from {{ edges_relation }} as e
                    inner join {{ dense_relation }} as da on da.node_id = e.node_a
                    inner join {{ dense_relation }} as db on db.node_id = e.node_b
                    where da.cluster_label = db.cluster_label
                {%- endset -%}
                {%- set nearest = cdpkit_min_label_propagation(target_relation, 'bfs' ~ pass, seeds_sql, split_edges_sql, dist_step) -%}
                {%- set next_relation = make_temp_relation(target_relation, '__cl' ~ pass) -%}
                {%- set next_sql -%}
                    select clusters.node_id, coalesce(anchors.node_id, clusters.label) as label
                    from {{ state.clusters }} as clusters
                    left join {{ dense_relation }} as dense on dense.node_id = clusters.node_id
                    left join {{ nearest }} as nearest
                        on nearest.node_id = dense.dense_id and nearest.label < {{ inf }}
                    left join {{ dense_relation }} as anchors
                        on anchors.dense_id = mod(nearest.label, {{ dist_step }})
                {%- endset -%}
                {% do run_query(create_table_as(True, next_relation, next_sql)) %}
                {% do adapter.drop_relation(nearest) %}
                {% do adapter.drop_relation(dense_relation) %}
                {%- if state.clusters != components -%}{% do adapter.drop_relation(state.clusters) %}{%- endif -%}
                {%- set state.clusters = next_relation -%}
            {%- endif -%}
            {% do adapter.drop_relation(chosen_relation) %}
            {%- set state.passes = pass -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not state.done -%}
        {{ exceptions.raise_compiler_error("identity: per-customer limits still broken after " ~ max_passes ~ " splitting passes; this is a bug, please report it") }}
    {%- endif -%}

    {#- cluster_id = the smallest node id of each part. Unsplit components already carry it (their
        label); only nodes whose label changed in a split need a min over their part. -#}
    {%- if state.clusters == components -%}
        {%- set final_sql -%}
            select node_id, label as component_id, label as cluster_id
            from {{ components }}
        {%- endset -%}
    {%- else -%}
        {%- set final_sql -%}
            with changed as (
                select clusters.node_id, clusters.label
                from {{ state.clusters }} as clusters
                inner join {{ components }} as components on components.node_id = clusters.node_id
                where clusters.label <> components.label
            ),
            part_min as (
                select label, min(node_id) as cluster_id from changed group by label
            )
            select
                clusters.node_id,
                components.label as component_id,
                coalesce(part_min.cluster_id, clusters.label) as cluster_id
            from {{ state.clusters }} as clusters
            inner join {{ components }} as components on components.node_id = clusters.node_id
            left join part_min on part_min.label = clusters.label
        {%- endset -%}
    {%- endif -%}

    {% call statement('main') -%}
        {{ get_create_table_as_sql(False, intermediate_relation, final_sql) }}
    {%- endcall %}

    {% if existing_relation is not none %}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}

    {%- if state.clusters != components -%}{% do adapter.drop_relation(state.clusters) %}{%- endif -%}
    {% do adapter.drop_relation(components) %}
    {% do adapter.drop_relation(nodes_relation) %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do create_indexes(target_relation) %}
    {{ adapter.commit() }}
    {{ drop_relation_if_exists(backup_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

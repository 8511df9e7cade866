{#- Exact minimum-label propagation over an undirected graph, run in the warehouse until no label
    changes (a fixpoint), never for a fixed number of rounds.

    labels(node_id, label) start from `init_sql`; each round a node takes
        min(own label, min over neighbours (label + step)).
    step = 0 with labels = node ids computes connected components (label = smallest node id of
    the component). step > 0 computes, per node, the nearest seed (a multi-source BFS): a seed
    starts at its rank, every other node at a large sentinel, and `label div step` is the
    distance.

    DuckDB: one statement. For components (step = 0): one propagation round as a plain join,
    then the links whose ends still carry different labels are contracted into a graph of
    labels, a few percent of the links, whose components come from a
    `WITH RECURSIVE ... USING KEY` query (semi-naive: each round only touches the labels that
    changed); it ends when no label changes. Every other adapter: a loop of CREATE TABLE AS
    rounds (with pointer jumping when step = 0, so a chain of n converges in O(log n) rounds),
    stopped when a round changes nothing; reaching var cdpkit_identity_max_iterations raises an
    error instead of returning unconverged labels.
    Cost: O(links) per round; rounds = O(log diameter) (loop) or the diameter of the
    contracted graph (DuckDB, each round on the changed labels only).

    Returns a new temporary table (named after `base`, a table relation, and `tag`) with columns
    node_id, label.
-#}

{% macro cdpkit_min_label_propagation(base, tag, init_sql, edges_sql, step=0) -%}
    {%- set result_relation = make_temp_relation(base, '__' ~ tag) -%}
    {%- if var('cdpkit_identity_portable_components', false) | as_bool -%}
        {#- Tests and benchmarks run the portable loop on DuckDB too. -#}
        {% do default__cdpkit_min_label_propagation(base, tag, init_sql, edges_sql, result_relation, step) %}
    {%- else -%}
        {% do adapter.dispatch('cdpkit_min_label_propagation', 'cdpkit')(base, tag, init_sql, edges_sql, result_relation, step) %}
    {%- endif -%}
    {{ return(result_relation) }}
{%- endmacro %}


{% macro duckdb__cdpkit_min_label_propagation(base, tag, init_sql, edges_sql, result_relation, step=0) -%}
    {%- if step == 0 -%}
        {#- Connected components. The first propagation round (each node takes the smallest id
            among itself and its neighbours, done by init_sql) settles most small components;
            the links whose ends still carry different labels are contracted into a much
            smaller graph of labels (a label class is connected through its label node), and
            only that graph goes through the recursive CTE. Exact: contraction keeps
            connectivity. -#}
        {%- set query -%}
            with recursive
            init as materialized (
                select node_id, label from ({{ init_sql }}) as init
            ),
            {#- Contracted once per undirected link (one pass over the links), then mirrored. -#}
            label_links as materialized (
                select distinct
                    least(a.label, b.label) as label_a,
                    greatest(a.label, b.label) as label_b
                from ({{ edges_sql }}) as e
                inner join init as a on a.node_id = e.node_a
                inner join init as b on b.node_id = e.node_b
                where a.label <> b.label
            ),
            label_edges as materialized (
                select label_a as src, label_b as dst from label_links
                union all
                select label_b as src, label_a as dst from label_links
            ),
            labels (node_id, label) using key (node_id) as (
                select src as node_id, least(src, min(dst)) as label
                from label_edges
                group by src
                union
                select label_edges.dst as node_id, min(labels.label) as label
                from labels
                inner join label_edges on label_edges.src = labels.node_id
                inner join recurring.labels as current_labels on current_labels.node_id = label_edges.dst
                group by label_edges.dst, current_labels.label
                having min(labels.label) < current_labels.label
            )
            select init.node_id, coalesce(labels.label, init.label) as label
            from init
            left join labels on labels.node_id = init.label
        {%- endset -%}
    {%- else -%}
        {%- set query -%}
            with recursive
            edges as materialized (
                select node_a as src, node_b as dst from ({{ edges_sql }}) as e
                union all
                select node_b as src, node_a as dst from ({{ edges_sql }}) as e
            ),
            labels (node_id, label) using key (node_id) as (
                select node_id, label from ({{ init_sql }}) as init
                union
                select edges.dst as node_id, min(labels.label) + {{ step }} as label
                from labels
                inner join edges on edges.src = labels.node_id
                inner join recurring.labels as current_labels on current_labels.node_id = edges.dst
                group by edges.dst, current_labels.label
                having min(labels.label) + {{ step }} < current_labels.label
            )
            select node_id, label from labels
        {%- endset -%}
    {%- endif -%}
    {% do run_query(create_table_as(True, result_relation, query)) %}
{%- endmacro %}


{% macro default__cdpkit_min_label_propagation(base, tag, init_sql, edges_sql, result_relation, step=0) -%}
    {%- set max_iterations = var('cdpkit_identity_max_iterations', 100) | int -%}
    {%- set edges_relation = make_temp_relation(base, '__' ~ tag ~ '_e') -%}
    {%- set edges_query -%}
        select node_a as src, node_b as dst from ({{ edges_sql }}) as e
        union all
        select node_b as src, node_a as dst from ({{ edges_sql }}) as e
    {%- endset -%}
    {% do run_query(create_table_as(True, edges_relation, edges_query)) %}
    {%- set current = make_temp_relation(base, '__' ~ tag ~ '_r0') -%}
    {% do run_query(create_table_as(True, current, 'select node_id, label from (' ~ init_sql ~ ') as init')) %}
    {%- set state = namespace(current=current, converged=false, rounds=0) -%}
    {%- for round in range(1, max_iterations + 1) -%}
        {%- if not state.converged -%}
            {%- set next = make_temp_relation(base, '__' ~ tag ~ '_r' ~ round) -%}
            {%- set round_query -%}
                with proposed as (
                    select edges.dst as node_id, min(labels.label) + {{ step }} as label
                    from {{ state.current }} as labels
                    inner join {{ edges_relation }} as edges on edges.src = labels.node_id
                    group by edges.dst
                ),
                merged as (
                    select
                        labels.node_id,
                        case when proposed.label < labels.label then proposed.label else labels.label end as label
                    from {{ state.current }} as labels
                    left join proposed on proposed.node_id = labels.node_id
                )
                {%- if step == 0 %},
                jumped as (
                    select
                        merged.node_id,
                        case when parent.label < merged.label then parent.label else merged.label end as label
                    from merged
                    left join merged as parent on parent.node_id = merged.label
                )
                select node_id, label from jumped
                {%- else %}
                select node_id, label from merged
                {%- endif %}
            {%- endset -%}
            {% do run_query(create_table_as(True, next, round_query)) %}
            {%- set changed_query -%}
                select count(*) from {{ next }} as n
                inner join {{ state.current }} as c on c.node_id = n.node_id
                where n.label <> c.label
            {%- endset -%}
            {%- set changed = run_query(changed_query).columns[0].values()[0] | int -%}
            {% do adapter.drop_relation(state.current) %}
            {%- set state.current = next -%}
            {%- set state.rounds = round -%}
            {%- if changed == 0 -%}{%- set state.converged = true -%}{%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not state.converged -%}
        {{ exceptions.raise_compiler_error("identity: label propagation did not converge within " ~ max_iterations ~ " rounds (var cdpkit_identity_max_iterations); raise it, or look for a huge component in identity_blocked_links") }}
    {%- endif -%}
    {% do run_query(create_table_as(True, result_relation, 'select node_id, label from ' ~ state.current)) %}
    {% do adapter.drop_relation(state.current) %}
    {% do adapter.drop_relation(edges_relation) %}
    {{ log("identity: label propagation converged in " ~ state.rounds ~ " rounds") }}
{%- endmacro %}

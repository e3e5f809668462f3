{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='activity_date') }}

with

behavior_events as (

    select * from {{ ref('int_behavior_events_deduplicated') }}
    where event_date >= {{ window_start() }} and event_date < {{ window_end() }}
        and category is not null

),

final as (

    select
        region,
        category,
        event_date as activity_date,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type = 'purchase') as purchases,
        cast(coalesce(sum(amount_cents) filter (where event_type = 'purchase'), 0) as bigint)
            as revenue_cents

    from behavior_events
    group by region, category, event_date

)

select * from final

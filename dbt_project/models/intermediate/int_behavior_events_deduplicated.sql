{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='event_date') }}

-- Landing is at-least-once: an event may land twice (same event_id); the first copy counts.
-- Deduplicated once here, so every model downstream reads each event once.

with

behavior_events as (

    select * from {{ ref('stg_landing__behavior_events') }}
    where event_date >= {{ window_start() }} and event_date < {{ window_end() }}

),

final as (

    select * from behavior_events
    qualify row_number() over (partition by event_id order by event_at) = 1

)

select * from final

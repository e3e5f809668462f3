{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='transaction_date') }}

-- Landing is at-least-once: a transaction may land twice (same event_id); the first copy
-- counts. Deduplicated once here for the customer profiles and the enriched transactions.
-- Each run rebuilds the 29 days before its window too: the profiles' trailing 30 days then
-- come from landing as it is now (late files included), even for days no run built before.

with

transactions as (

    select * from {{ ref('stg_landing__card_transactions') }}
    where transaction_date >= {{ window_start(lookback_days=29) }}
        and transaction_date < {{ window_end() }}

),

final as (

    select * from transactions
    qualify row_number() over (partition by event_id order by transacted_at) = 1

)

select * from final

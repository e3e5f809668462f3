"""The batch bench's baseline: the warehouse's models as plain DuckDB SQL (bench/batch.py).

The same transformations as the dbt project's staging, intermediate and mart models, minus
dbt: what the batch graph's wall time is compared against.
"""

PLAIN_SQL = """
create or replace table behavior_events as
select * exclude (event_date), cast(event_date as date) as event_date
from read_parquet($behavior_glob, hive_partitioning = true)
where cast(event_date as date) >= $start_date and cast(event_date as date) < $end_date
qualify row_number() over (partition by event_id order by event_at) = 1;

create or replace table card_transactions as
select * exclude (event_date, event_at), event_at as transacted_at,
    cast(event_date as date) as transaction_date
from read_parquet($transactions_glob, hive_partitioning = true)
where cast(event_date as date) >= $start_date and cast(event_date as date) < $end_date
qualify row_number() over (partition by event_id order by event_at) = 1;

create or replace table sessions as
select customer_id, session_id, event_date as activity_date, min(region) as region,
    count(*) filter (where event_type = 'page_view') as page_views,
    count(*) filter (where event_type = 'search') as searches,
    coalesce(sum(quantity) filter (where event_type = 'add_to_cart'), 0) as add_to_carts,
    count(*) filter (where event_type = 'purchase') as purchases,
    coalesce(sum(amount_cents) filter (where event_type = 'purchase'), 0) as spend_cents
from behavior_events group by customer_id, session_id, event_date;

create or replace table fct_customer_behavior_daily as
select customer_id || '@' || strftime(activity_date, '%Y-%m-%d') as customer_day_id,
    customer_id, activity_date, min(region) as region, count(*) as sessions,
    sum(page_views) as page_views, sum(searches) as searches,
    sum(add_to_carts) as add_to_carts, sum(purchases) as purchases,
    sum(spend_cents) as spend_cents,
    count(*) filter (where purchases > 0) / count(*) as conversion_rate
from sessions group by customer_id, activity_date;

create or replace table profiles as
with daily as (
    select customer_id, transaction_date as profile_date, list(amount_cents) as amounts
    from card_transactions group by customer_id, transaction_date
)
select customer_id, profile_date,
    list_median(flatten(list(amounts) over (partition by customer_id order by profile_date
        range between interval 29 days preceding and current row))) as median_amount_cents_30d
from daily;

create or replace table fct_transaction_insights as
with enriched as (
    select t.*, card_region <> ip_region as is_geo_mismatch,
        amount_cents / nullif(p.median_amount_cents_30d, 0) as amount_vs_customer_median
    from card_transactions t left join profiles p
        on t.customer_id = p.customer_id and t.transaction_date = p.profile_date
)
select transaction_id, customer_id, region, transaction_date, transacted_at, amount_cents,
    merchant_category, card_region, is_geo_mismatch, amount_vs_customer_median,
    least(1.0, 0.5 * cast(is_geo_mismatch as double) + 0.5 * least(1.0,
        greatest(0.0, coalesce(amount_vs_customer_median, 1.0) - 1.0) / 4.0)) as risk_score,
    coalesce(is_fraud, false) as is_confirmed_fraud
from enriched;

create or replace table fct_market_trends as
with daily as (
    select region, category, event_date as activity_date,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type = 'purchase') as purchases,
        coalesce(sum(amount_cents) filter (where event_type = 'purchase'), 0) as revenue_cents
    from behavior_events where category is not null group by region, category, event_date
), with_trailing as (
    select *, coalesce(sum(revenue_cents) over (partition by region, category
        order by activity_date range between interval 7 days preceding
        and interval 1 day preceding), 0) / 7.0 as mean_7d
    from daily
)
select region || '/' || category || '@' || strftime(activity_date, '%Y-%m-%d') as trend_id,
    region, category, activity_date, page_views, purchases, revenue_cents,
    purchases / nullif(page_views, 0) as conversion_rate,
    revenue_cents / nullif(mean_7d, 0) - 1 as revenue_growth_7d
from with_trailing;
"""

MARTS = {
    "fct_customer_behavior_daily": "customer_day_id",
    "fct_transaction_insights": "transaction_id",
    "fct_market_trends": "trend_id",
}

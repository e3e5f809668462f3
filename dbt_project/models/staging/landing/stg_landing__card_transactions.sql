with

source as (

    select * from {{ source('landing', 'card_transactions') }}

),

renamed as (

    select
        event_id,
        transaction_id,
        customer_id,
        region,
        cast(event_at as timestamptz) as transacted_at,
        cast(event_date as date) as transaction_date,
        session_id,
        device_id,
        cast(amount_cents as bigint) as amount_cents,
        currency,
        merchant_id,
        merchant_category,
        card_id,
        card_region,
        ip_region,
        channel,
        is_fraud as is_labelled_fraud,
        fraud_pattern

    from source

)

select * from renamed

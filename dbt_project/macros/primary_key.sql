{# A key: unique and never null, checked in one query (dbt's `unique` and `not_null` take
   two, each a node of its own in every build). Rows listed are the failing keys. #}
{% test primary_key(model, columns) %}
select {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1 or {{ columns | join(' is null or ') }} is null
{% endtest %}
